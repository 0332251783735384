"""Use case: `reportbot import reports FILE` — day one, the office's ledger carried over from its spreadsheet
(issue 27). Customers already under protection in the assistant's sheet must be in the ledger on the first
morning, or the first canvasser to report one through the bot wins it.

The promise: all rows or none. The file is read and every row checked (rules/import_rows.py) before
anything is written; then, in ONE write transaction, the ledger is read again, the plan made
(rules/import_plan.py: first come by the original 报备时间, the ledger's live reports standing) and every
report, its events, visits, reminders and receipt numbers recorded, with one 'imported' event naming the
file's SHA-256 and the person. The rows' events are chained like the bot's (storage/imports.py).

Ways it fails, and what then:
- no person (``--by``), an unknown one or one below manager; no project named when there are several, or an
  unknown one; a file that is no spreadsheet: refused before anything is read (``refused``); nothing recorded;
- no header, a required column missing or named twice (``header_problem``): nothing recorded;
- a bad row (``problems``: line, column and the parser's sentence): every one is listed; nothing recorded;
- a conflict (``plan.conflicts``): listed and left out, the other rows go in — the ledger's rules at work,
  not a fault of the file; a dry run lists them all the same;
- the ledger moved since the dry run: the import reads it again in its own transaction (on SQLite that
  transaction holds the write lock); a report the bot files at that same moment on PostgreSQL meets the
  import at the partial unique index: the import is rolled back whole (``refused == "raced"``), run it again;
- a crash in the middle: one transaction, so nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from reportbot.documents.sheet_file import SheetError, read_table
from reportbot.handlers.context import Services, Unit
from reportbot.rules.import_columns import COLUMN_NAMES, HeaderProblem, find_header, under_header
from reportbot.rules.import_plan import ImportPlan, Planned, plan_import, receipt_days
from reportbot.rules.import_rows import Directory, Row, read_rows
from reportbot.rules.model import REJECT_LABELS, EventKind, Project, Role, Staff, Status
from reportbot.rules.ownership import RULE_LABELS, Rule
from reportbot.rules.policy import Policy
from reportbot.rules.reminders import Kind, plan_for_report
from reportbot.storage.imports import ImportedEvent, ImportedReport, ImportedVisit

LAST_MINUTE = timedelta(minutes=1)
_APPOINTMENT_KINDS = (Kind.APPOINTMENT_DAY, Kind.APPOINTMENT_SOON)


@dataclass(frozen=True)
class ImportResult:
    """What the import did or would do; ``import_summary.j2`` tells it (``import_refused.j2`` a refusal)."""

    filename: str
    sha256: str
    now: datetime
    dry_run: bool
    project: Project | None = None
    by: Staff | None = None
    refused: str | None = None  # by_missing | by_unknown | by_not_allowed | no_project | project_unknown |
    #                             several_projects | unreadable | raced
    detail: str = ""  # the projects there are, or why the file cannot be read
    asked_project: str | None = None
    sheet: str | None = None
    header_problem: HeaderProblem | None = None
    problems: tuple[tuple[int, str, str], ...] = ()  # line, column, the sentence
    plan: ImportPlan | None = None
    skipped: int = 0
    done: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return {s.value: self.plan.count(s) for s in Status} if self.plan else {}


def _project(projects: list[Project], name: str | None) -> Project | str:
    chosen = [p for p in projects if p.name == name.strip()] if name else projects
    if len(chosen) == 1:
        return chosen[0]
    return "project_unknown" if name else "several_projects" if projects else "no_project"


def _person(staff: list[Staff], by: str | None) -> Staff | str:
    """The person who imports: a staff id (`staff list` shows it as #3) or a name only one person has."""
    text = (by or "").strip().lstrip("#")
    if not text:
        return "by_missing"
    found = [s for s in staff if str(s.id) == text] if text.isdigit() else [s for s in staff if s.name == text]
    if len(found) != 1:
        return "by_unknown"
    return found[0] if found[0].role.at_least(Role.MANAGER) else "by_not_allowed"


async def import_reports(
    svc: Services, project_name: str | None, filename: str, data: bytes, by: str | None, now: datetime, *,
    dry_run: bool,
) -> ImportResult:
    """Read, check and plan the file; unless ``dry_run``, record it all in one transaction."""
    result = ImportResult(filename, hashlib.sha256(data).hexdigest(), now, dry_run, asked_project=project_name)
    async with svc.db.uow(write=False) as uow:
        projects = await uow.projects.all()
        staff = [s for s, _ in await uow.staff.all()]
    project = _project(projects, project_name)
    if isinstance(project, str):
        return replace(result, refused=project, detail="、".join(p.name for p in projects))
    result = replace(result, project=project)
    person = _person(staff, by)
    if isinstance(person, str) and not (dry_run and by is None):
        return replace(result, refused=person)
    result = replace(result, by=person if isinstance(person, Staff) else None)
    try:
        table = await asyncio.to_thread(read_table, data, filename)  # openpyxl takes a while: not on the loop
    except SheetError as exc:
        return replace(result, refused="unreadable", detail=str(exc))
    result = replace(result, sheet=table.sheet)
    header = find_header([cells for _, cells in table.rows])
    if isinstance(header, HeaderProblem):
        return replace(result, header_problem=header)
    directory = Directory(tuple(s for s in staff if s.default_project_id in (None, project.id)))
    rows, problems, skipped = read_rows(under_header(header, table.rows), directory, svc.policy, now.astimezone(svc.tz))
    result = replace(result, skipped=skipped)
    if problems:
        said = tuple((p.line, COLUMN_NAMES[p.column], svc.render.refusal(p.refusal)) for p in problems)
        return replace(result, problems=said)
    if dry_run:
        async with svc.db.uow(write=False) as uow:
            return replace(result, plan=await _plan(uow, project, rows, svc.policy, now))
    try:
        async with svc.db.uow() as uow:
            plan = await _plan(uow, project, rows, svc.policy, now)
            await _record(uow, svc, result, plan, {s.id: s.name for s in staff})
            await uow.commit()
    except IntegrityError:
        return replace(result, refused="raced")
    return replace(result, plan=plan, done=True)


async def _plan(uow: Unit, project: Project, rows: list[Row], policy: Policy, now: datetime) -> ImportPlan:
    ledger = await uow.imports.customers(project.id, [r.phone.masked for r in rows])
    taken = await uow.imports.receipts_taken(project.id, [r.receipt_no for r in rows if r.receipt_no])
    last = await uow.imports.last_numbers(project.id)
    return plan_import(rows, ledger, taken, last, policy, now)


async def _record(uow: Unit, svc: Services, result: ImportResult, plan: ImportPlan, names: dict[int, str]) -> None:
    """The plan, written: unregistered canvassers by name, the reports, their events, visits and reminders."""
    project, by, now = result.project, result.by, result.now
    assert project is not None and by is not None
    ghosts: dict[tuple[str, str], int] = {}
    for p in plan.unregistered:  # recorded by name: a staff entry with no chat identity, in the row's team
        key = (p.row.team, p.row.canvasser)
        if key not in ghosts:
            ghost = await uow.staff.add(p.row.canvasser, p.row.team, Role.CANVASSER, project.id, {}, now)
            ghosts[key], names[ghost.id] = ghost.id, ghost.name

    def canvasser(row: Row) -> int:
        return row.canvasser_id if row.canvasser_id is not None else ghosts[(row.team, row.canvasser)]

    reports = [_report(p, canvasser(p.row), result.sha256, svc) for p in plan.planned]
    ids = await uow.imports.add_reports(project.id, reports)
    events: list[ImportedEvent] = []
    visits: list[ImportedVisit] = []
    reminders: list[dict[str, object]] = []
    for p, new, report_id in zip(plan.planned, reports, ids, strict=True):
        events += _events(p, new, report_id, by, names, now)
        if p.status is Status.VISITED:
            assert p.visit_at is not None
            visits.append(ImportedVisit(new.phone, p.visit_at, by.id, new.canvasser_id, report_id, now,
                                        Rule.REPORTED.value, new.phone_hash))
        if p.status.active:
            reminders += _reminders(p, project.id, report_id, new.canvasser_id, svc.policy, now)
        if p.public_at is not None:
            await uow.reports.declare_public(project.id, new.phone, p.public_at)
    await uow.imports.add_visits(project.id, visits)
    rows = len(plan.planned)
    detail = f"{result.filename[:80]}；SHA-256 {result.sha256}；{rows}条，冲突{len(plan.conflicts)}条"
    events.append(ImportedEvent("", EventKind.IMPORTED, by.id, now, None, detail))
    await uow.imports.append_events(project.id, events)
    await uow.reminders.plan_many(reminders)
    await uow.imports.raise_counters(project.id, receipt_days(plan))


def _report(p: Planned, canvasser_id: int, sha256: str, svc: Services) -> ImportedReport:
    row = p.row
    rejected = p.status is Status.REJECTED and row.reject_reason is not None
    return ImportedReport(
        receipt_no=p.receipt_no, customer=row.customer, phone=row.phone.masked, team=row.team,
        canvasser_id=canvasser_id, filed_by_id=row.filed_by_id or canvasser_id,
        # The column may not be empty: a row without a visit time keeps its last valid minute, and no visit reminder.
        appointment_at=row.appointment_at or p.valid_until - LAST_MINUTE,
        reported_at=row.reported_at, valid_until=p.valid_until, status=p.status.value, note=row.note,
        reason=row.reason, source_chat=sha256, phone_hash=svc.phone_hash(row.phone),
        decided_by_id=row.decided_by_id, decided_at=row.decided_at if row.decided_by_id else None,
        reject_reason=row.reject_reason.value if rejected and row.reject_reason else None,
    )


def _events(p: Planned, new: ImportedReport, report_id: int, by: Staff, names: dict[int, str], now: datetime
            ) -> list[ImportedEvent]:
    """As the bot would have recorded them: reported (on behalf of, when someone else filed it), the decision
    when the sheet names who made it, the visit, the expiry (at the end of validity, as the sweep), 公号."""
    phone, canvasser = new.phone, new.canvasser_id
    on_behalf = names.get(new.filed_by_id) if new.filed_by_id != canvasser else None
    events = [ImportedEvent(phone, EventKind.REPORTED, canvasser, p.row.reported_at, report_id, on_behalf)]
    if p.row.decided_by_id is not None and p.status is not Status.PENDING:
        rejected = p.status is Status.REJECTED
        reason = REJECT_LABELS[p.row.reject_reason] if rejected and p.row.reject_reason else None
        events.append(ImportedEvent(phone, EventKind.REJECTED if rejected else EventKind.CONFIRMED,
                                    p.row.decided_by_id, p.row.decided_at or p.row.reported_at, report_id, reason))
    if p.status is Status.VISITED and p.visit_at is not None:
        events.append(ImportedEvent(phone, EventKind.VISITED, by.id, p.visit_at, report_id,
                                    f"{RULE_LABELS[Rule.REPORTED]}；导入"))
    if p.status is Status.EXPIRED:
        events.append(ImportedEvent(phone, EventKind.EXPIRED, canvasser, min(p.valid_until, now), report_id))
    if p.public_at is not None:
        events.append(ImportedEvent(phone, EventKind.PUBLIC, canvasser, p.public_at, report_id))
    return events


def _reminders(p: Planned, project_id: int, report_id: int, canvasser_id: int, policy: Policy, now: datetime
               ) -> list[dict[str, object]]:
    """A live report's reminders from now on (none of those already due): the pending alert only for a
    report still to be confirmed, visit reminders only when the sheet gave a visit time."""
    appointment = p.row.appointment_at
    plans = plan_for_report(now, appointment or p.valid_until, p.valid_until, policy)
    return [
        {"key": f"{plan.kind.value}:{report_id}", "kind": plan.kind.value, "project_id": project_id,
         "due_at": plan.due, "report_id": report_id, "staff_id": None if plan.kind is Kind.PENDING else canvasser_id}
        for plan in plans
        if (plan.kind is not Kind.PENDING or p.status is Status.PENDING)
        and (plan.kind not in _APPOINTMENT_KINDS or appointment is not None)
    ]
