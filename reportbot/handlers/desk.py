"""Use case: the front desk (案场判客, SPEC §12) — find the customer, see who would own them, register the visit.

The desk asks what /visit decides, before anything is recorded: the customer's key is found from a phone
(full or masked), a receipt number, a name or a 带看 visit code; ``preview`` says who would own the customer
if the visit were registered now and why (SPEC §5 in words), with the report and its history, or shows the
visit already registered. ``register`` is /visit itself (handlers/visit.record_visit): the same decision,
events (naming the person and "网页") and notices — the group on every channel the project has one, the
owner on theirs — stored in the outbox in the visit's own commit.

A full number typed at the desk never leaves this module but as its keyed hash (``Lookup``): pages carry
the masked phone only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.delivery import Queued
from reportbot.handlers.messages import Action
from reportbot.handlers.visit import Announcement, announce_everywhere, record_visit
from reportbot.handlers.who import RECEIPT
from reportbot.rules import visit_code
from reportbot.rules.model import Event, Project, Report, Staff, Status, Visit
from reportbot.rules.ownership import RULE_LABELS, Decision, decide_owner
from reportbot.rules.phone import Phone, looks_like_phone, parse_phone
from reportbot.rules.privacy import same_customer
from reportbot.rules.refusal import Refusal

WEB = "网页"


@dataclass(frozen=True)
class Lookup:
    """A customer's key as the desk found it: the project, the masked phone and, when a full number was
    typed, its keyed hash (``exact``: exact matching); who brought them, when a visit code said so."""

    project: Project
    phone: str  # masked
    brought_by: int | None = None
    exact: str | None = None

    @property
    def written(self) -> Phone:
        return Phone(self.phone, was_full=False)


@dataclass(frozen=True)
class Found:
    """What a search found: one customer to preview, or several to choose from, or nothing (why)."""

    lookups: list[Lookup]
    problem: str | None = None  # a refusal's sentence, or None
    code_ended: Report | None = None  # a visit code whose report has ended


@dataclass(frozen=True)
class Preview:
    lookup: Lookup
    report: Report | None  # the report that holds the customer now
    reports: list[Report]  # every report of the customer, oldest first
    history: list[Event]
    visit: Visit | None  # registered already: shown instead of a decision
    decision: Decision
    rule: str  # the decision in words (SPEC §5)
    brought_name: str | None
    canvassers: list[Staff]  # who may be named as having brought the customer


async def search(svc: Services, projects: list[Project], query: str) -> Found:
    """The customers a desk query names in these projects."""
    query = query.strip()
    by_id = {p.id: p for p in projects}
    if not query or not projects:
        return Found([])
    if svc.web is not None and len(query) == visit_code.LENGTH and (rid := visit_code.decode(query.lower(),
                                                                                              svc.web.code_key)):
        return await from_code(svc, projects, rid)
    async with svc.db.uow(write=False) as uow:
        if RECEIPT.match(query):
            reports = await uow.reports.by_receipt(list(by_id), query.upper())
            return Found([Lookup(by_id[r.project_id], r.phone) for r in reports])
        if looks_like_phone(query):
            phone = parse_phone(query, svc.policy.mask_suffix_digits)
            if isinstance(phone, Refusal):
                return Found([], svc.render.refusal(phone))
            exact = svc.phone_hash(phone)
            keys = {r.project_id for r in await uow.reports.by_phone(list(by_id), phone.masked)}
            keys |= {p for p in by_id if await uow.visits.of_customer(p, phone.masked, exact)}
            if not keys and len(projects) == 1:
                keys = {projects[0].id}  # no record at all: a natural visitor may still be registered
            return Found([Lookup(by_id[p], phone.masked, None, exact) for p in sorted(keys)])
        reports = await uow.reports.by_customer(list(by_id), query[:20])
    seen = dict.fromkeys((r.project_id, r.phone) for r in reports)
    return Found([Lookup(by_id[p], phone) for p, phone in seen])


async def from_code(svc: Services, projects: list[Project], report_id: int) -> Found:
    """A scanned 带看 code: its report's customer, brought by its canvasser; an ended report says so."""
    async with svc.db.uow(write=False) as uow:
        report = await uow.reports.get(report_id)
    by_id = {p.id: p for p in projects}
    if report is None or report.project_id not in by_id:
        return Found([])
    if report.status in (Status.EXPIRED, Status.REJECTED):
        return Found([], code_ended=report)
    return Found([Lookup(by_id[report.project_id], report.phone, report.canvasser_id)])


async def preview(svc: Services, lookup: Lookup) -> Preview:
    """Who would own the customer if the visit were registered now, and why; nothing is recorded."""
    project, phone, exact = lookup.project, lookup.phone, lookup.exact
    async with svc.db.uow(write=False) as uow:
        reports = await uow.reports.by_phone([project.id], phone)
        active = await uow.reports.active_for(project.id, phone)
        visit = await uow.visits.of_customer(project.id, phone, exact)
        history = await uow.events.history(project.id, phone)
        brought = await uow.staff.get(lookup.brought_by) if lookup.brought_by else None
        canvassers = await uow.staff.canvassers_of(project.id)
    if active is not None and not same_customer(active.phone_hash, exact):
        active = None  # another customer who shares the masked number
    decision = decide_owner(active, lookup.brought_by)
    return Preview(lookup, active, reports, history, visit, decision, RULE_LABELS[decision.rule],
                   brought.name if brought else None, canvassers)


@dataclass(frozen=True)
class Registered:
    announcement: Announcement | None  # None: the customer had visited before
    visit: Visit
    answers: list[Queued]  # the notices, stored in the outbox, each naming its channel


async def register(
    svc: Services, person: Staff, lookup: Lookup, companions: int, brought_by: int | None, now: datetime
) -> Registered:
    """/visit from the desk: the visit recorded and decided, its notices stored in the same commit."""
    outcome: list[Announcement | Visit] = []

    async def visit_and_notices() -> list[Action]:
        result = await record_visit(svc, lookup.project, person, lookup.written, companions, brought_by, now,
                                    via=WEB, exact=lookup.exact)
        outcome.append(result)
        return [] if isinstance(result, Visit) else await announce_everywhere(svc, lookup.project, result)

    stored = await delivery.with_stored_answers(svc.db, "web", now, visit_and_notices)
    result = outcome[-1]
    if isinstance(result, Visit):
        return Registered(None, result, [])
    return Registered(result, result.visit, stored)
