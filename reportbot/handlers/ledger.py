"""Use case: the ledger on a screen (SPEC §12) — a project's reports, filtered, a page at a time.

Filters: status, team, canvasser, a range of report days (local), and one search box (a masked or full
phone — only its masked form is used —, a receipt number, a customer's name). Pages are read by key
(reported_at, id) after the last row shown, never by OFFSET: page 2,000 costs what page 1 does. The
customer's page is /who's: every report, the history and the audit chain's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from reportbot.handlers.context import Services
from reportbot.handlers.who import RECEIPT, CustomerFile
from reportbot.rules.audit import first_break
from reportbot.rules.model import Project, Report, Staff, Status
from reportbot.rules.phone import Phone, looks_like_phone, parse_phone
from reportbot.storage.reports import LedgerFilter

PAGE = 50


@dataclass(frozen=True)
class LedgerAsk:
    """What a person asked of the ledger, as plain values (the transport decodes its request into these)."""

    project_id: int
    status: str | None = None
    team: str | None = None
    canvasser_id: int | None = None
    first_day: date | None = None
    last_day: date | None = None
    query: str | None = None
    newest_first: bool = True
    after: str | None = None  # the cursor of the page before


@dataclass(frozen=True)
class LedgerPage:
    rows: list[Report]
    next_after: str | None  # the cursor of the next page, None on the last
    teams: list[str]
    canvassers: list[Staff]
    problem: str | None = None  # the search could not be read (a refusal's sentence)
    shown_query: str | None = None  # the search as it may be shown (a full number masked)


def cursor(report: Report) -> str:
    return f"{int(report.reported_at.timestamp() * 1_000_000)}.{report.id}"


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    micros, _, ident = text.partition(".")
    if not micros.isdigit() or not ident.isdigit() or len(micros) > 18 or len(ident) > 18:
        return None
    return datetime.fromtimestamp(int(micros) / 1_000_000, UTC), int(ident)


async def page(svc: Services, project: Project, ask: LedgerAsk) -> LedgerPage:
    where, problem, shown = _filter(svc, project, ask)
    async with svc.db.uow(write=False) as uow:
        rows = [] if problem else await uow.reports.page(where, parse_cursor(ask.after), PAGE + 1)
        canvassers = await uow.staff.canvassers_of(project.id)
    teams = sorted({s.team for s in canvassers})
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return LedgerPage(rows, cursor(rows[-1]) if more and rows else None, teams, canvassers, problem, shown)


def _filter(svc: Services, project: Project, ask: LedgerAsk) -> tuple[LedgerFilter, str | None, str | None]:
    status = next((s for s in Status if s.value == ask.status), None)
    start = _local_midnight(svc, ask.first_day)
    end = _local_midnight(svc, ask.last_day + timedelta(days=1)) if ask.last_day else None
    phone = receipt = customer = None
    problem = shown = None
    query = (ask.query or "").strip()
    if query:
        if RECEIPT.match(query):
            receipt = shown = query.upper()
        elif looks_like_phone(query):
            parsed = parse_phone(query, svc.policy.mask_suffix_digits)
            if isinstance(parsed, Phone):
                phone = shown = parsed.masked
            else:
                problem = svc.render.refusal(parsed)
        else:
            customer = shown = query[:20]
    where = LedgerFilter(project.id, status, ask.team or None, ask.canvasser_id, start, end, phone, receipt,
                         customer, ask.newest_first)
    return where, problem, shown


def _local_midnight(svc: Services, day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(0), svc.tz).astimezone(UTC)


def masked_query(svc: Services, query: str) -> str:
    """A search as it may go into a URL: a phone masked (a full number never leaves the request body)."""
    query = query.strip()[:40]
    if looks_like_phone(query):
        parsed = parse_phone(query, svc.policy.mask_suffix_digits)
        return parsed.masked if isinstance(parsed, Phone) else ""
    return query


@dataclass(frozen=True)
class CustomerPage:
    file: CustomerFile
    chain_intact: bool | None  # the project's audit chain, when it was checked (None: not asked)
    chain_events: int


async def customer(svc: Services, project: Project, phone: str, check_chain: bool) -> CustomerPage | None:
    """/who for one customer key, with the project's audit chain checked when asked (a manager's button)."""
    async with svc.db.uow(write=False) as uow:
        reports = await uow.reports.by_phone([project.id], phone)
        history = await uow.events.history(project.id, phone)
        visit = await uow.visits.of_customer(project.id, phone)
        intact, count = None, 0
        if check_chain:
            links, head = await uow.events.chain(project.id)
            intact, count = first_break(links, head) is None, len(links)
    if not reports and not history and visit is None:
        return None
    return CustomerPage(CustomerFile(project, phone, reports, history, visit), intact, count)
