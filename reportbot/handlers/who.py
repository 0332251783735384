"""Use case: /who — whose customer is this, and what happened to them (SPEC §8)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from reportbot.handlers.context import Services, Unit
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.rules.model import Event, Project, Report, Visit
from reportbot.rules.phone import Phone, looks_like_phone, parse_phone

RECEIPT = re.compile(r"^BB-\d{8}-\d{4,}$", re.IGNORECASE)
MAX_CUSTOMERS_SHOWN = 5


@dataclass(frozen=True)
class CustomerFile:
    """One customer key (project, masked phone): its reports, newest last, and its history."""

    project: Project
    phone: str
    reports: list[Report]
    history: list[Event]
    visit: Visit | None

    @property
    def current(self) -> Report | None:
        return self.reports[-1] if self.reports else None


async def handle_who(msg: Incoming, query: str, projects: list[Project], svc: Services) -> list[Action]:
    query = query.strip()
    if not query:
        return [Send(msg.chat_id, svc.render("who_usage.j2"))]
    project_ids = [p.id for p in projects]
    visited: list[tuple[int, str]] = []  # customers who visited without any report (natural visitors)
    async with svc.db.uow(write=False) as uow:
        if RECEIPT.match(query):
            found = await uow.reports.by_receipt(project_ids, query.upper())
        elif looks_like_phone(query):
            phone = parse_phone(query, svc.policy.mask_suffix_digits)
            if not isinstance(phone, Phone):
                return [Send(msg.chat_id, svc.render("who_usage.j2", problem=svc.render.refusal(phone)))]
            found = await uow.reports.by_phone(project_ids, phone.masked)
            exact = svc.phone_hash(phone)
            visited = [(p, phone.masked) for p in project_ids if await uow.visits.of_customer(p, phone.masked, exact)]
        else:
            found = await uow.reports.by_customer(project_ids, query)
        keys = [(r.project_id, r.phone) for r in found] + visited
        files = await _files(uow, keys, {p.id: p for p in projects})
    if not files:
        return [Send(msg.chat_id, svc.render("who_none.j2", query=_safe_query(query, svc)))]
    return [
        Send(
            msg.chat_id,
            svc.render("who.j2", files=files[:MAX_CUSTOMERS_SHOWN], more=len(files) - MAX_CUSTOMERS_SHOWN, now=msg.now),
        )
    ]


async def _files(uow: Unit, keys: list[tuple[int, str]], projects: dict[int, Project]) -> list[CustomerFile]:
    files = []
    for project_id, phone in dict.fromkeys(keys):
        reports = await uow.reports.by_phone([project_id], phone)
        history = await uow.events.history(project_id, phone)
        visit = await uow.visits.of_customer(project_id, phone)
        files.append(CustomerFile(projects[project_id], phone, reports, history, visit))
    return files


def _safe_query(query: str, svc: Services) -> str:
    """Never echo a full phone number back, even in 'not found'."""
    if looks_like_phone(query):
        phone = parse_phone(query, svc.policy.mask_suffix_digits)
        return phone.masked if isinstance(phone, Phone) else "（号码格式不对）"
    return query[:20]
