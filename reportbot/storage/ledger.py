"""The rows of the .xlsx export: a project's reports, events, visits and reminders sent in a period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from reportbot.rules.model import EventKind, Status
from reportbot.rules.teams import team_at
from reportbot.storage.staff import TeamChangeRepository
from reportbot.storage.tables import EventRow, ReminderRow, ReportRow, StaffRow, VisitRow


@dataclass(frozen=True)
class EventLine:
    """One event of the ledger, as the export lists it."""

    at: datetime
    phone: str
    kind: EventKind
    actor_name: str
    actor_team: str  # the team the actor was in at the time
    receipt_no: str | None
    report_id: int | None
    report_team: str | None  # the team of the report the event is about (for a refused duplicate: the holder's)
    detail: str | None


@dataclass(frozen=True)
class VisitLine:
    at: datetime
    phone: str
    customer: str | None
    rule: str
    owner_name: str | None
    owner_team: str | None
    brought_by_name: str | None
    registered_by_name: str
    companions: int
    receipt_no: str | None
    lapsed_at: datetime | None


@dataclass(frozen=True)
class ReminderLine:
    sent_at: datetime
    due_at: datetime
    kind: str
    to_name: str | None  # None: the project's group
    receipt_no: str | None
    phone: str | None


@dataclass(frozen=True)
class ReportLine:
    receipt_no: str
    customer: str
    phone: str
    team: str
    canvasser_name: str
    filed_by_name: str
    reported_at: datetime
    appointment_at: datetime
    valid_until: datetime
    status: Status
    decided_by_name: str | None
    decided_at: datetime | None
    reject_reason: str | None
    note: str | None
    reason: str | None
    id: int


class LedgerRepository:
    """The rows of the export: a project's reports, events, visits, reminders and deals of a period."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._teams = TeamChangeRepository(session)

    async def reports(self, project_id: int, start: datetime, end: datetime) -> list[ReportLine]:
        canvasser, filer, decider = aliased(StaffRow), aliased(StaffRow), aliased(StaffRow)
        stmt = (
            select(ReportRow, col(canvasser.name), col(filer.name), col(decider.name))
            .join(canvasser, col(canvasser.id) == ReportRow.canvasser_id)
            .join(filer, col(filer.id) == ReportRow.filed_by_id)
            .outerjoin(decider, col(decider.id) == ReportRow.decided_by_id)
            .where(col(ReportRow.project_id) == project_id, col(ReportRow.reported_at) >= start,
                   col(ReportRow.reported_at) < end)
            .order_by(col(ReportRow.reported_at), col(ReportRow.id))
        )
        return [
            ReportLine(r.receipt_no, r.customer, r.phone, r.team, c, f, r.reported_at, r.appointment_at,
                       r.valid_until, Status(r.status), d, r.decided_at, r.reject_reason, r.note, r.reason, r.id or 0)
            for r, c, f, d in (await self.session.execute(stmt)).all()
        ]

    async def events(self, project_id: int, start: datetime, end: datetime) -> list[EventLine]:
        """Every event of the period, and every event of the reports filed in it (their status history)."""
        filed = select(col(ReportRow.id)).where(
            col(ReportRow.project_id) == project_id, col(ReportRow.reported_at) >= start,
            col(ReportRow.reported_at) < end,
        )
        in_period = (col(EventRow.at) >= start) & (col(EventRow.at) < end)
        stmt = (
            select(EventRow, col(StaffRow.name), col(StaffRow.team), col(ReportRow.receipt_no),
                   col(ReportRow.team))
            .join(StaffRow, col(StaffRow.id) == EventRow.actor_id)
            .outerjoin(ReportRow, col(ReportRow.id) == EventRow.report_id)
            .where(col(EventRow.project_id) == project_id, in_period | col(EventRow.report_id).in_(filed))
            .order_by(col(EventRow.at), col(EventRow.id))
        )
        rows = (await self.session.execute(stmt)).all()
        changes = await self._teams.of_staff(e.actor_id for e, *_ in rows)
        return [
            EventLine(e.at, e.phone, EventKind(e.kind), name, team_at(team, changes.get(e.actor_id, []), e.at),
                      receipt, e.report_id, report_team, e.detail)
            for e, name, team, receipt, report_team in rows
        ]

    async def visits(self, project_id: int, start: datetime, end: datetime) -> list[VisitLine]:
        owner, bringer, registrar = aliased(StaffRow), aliased(StaffRow), aliased(StaffRow)
        stmt = (
            select(VisitRow, col(ReportRow.customer), col(ReportRow.receipt_no), col(owner.name),
                   col(owner.team), col(bringer.name), col(registrar.name))
            .outerjoin(ReportRow, col(ReportRow.id) == VisitRow.report_id)
            .outerjoin(owner, col(owner.id) == VisitRow.owner_id)
            .outerjoin(bringer, col(bringer.id) == VisitRow.brought_by_id)
            .join(registrar, col(registrar.id) == VisitRow.registered_by_id)
            .where(col(VisitRow.project_id) == project_id, col(VisitRow.at) >= start, col(VisitRow.at) < end)
            .order_by(col(VisitRow.at), col(VisitRow.id))
        )
        return [
            VisitLine(v.at, v.phone, customer, v.rule, owner_name, owner_team, brought, registrar_name, v.companions,
                      receipt, v.lapsed_at)
            for v, customer, receipt, owner_name, owner_team, brought, registrar_name in
            (await self.session.execute(stmt)).all()
        ]

    async def reminders_sent(self, project_id: int, start: datetime, end: datetime) -> list[ReminderLine]:
        person = aliased(StaffRow)
        stmt = (
            select(col(ReminderRow.sent_at), col(ReminderRow.due_at), col(ReminderRow.kind), col(person.name),
                   col(ReportRow.receipt_no), func.coalesce(col(ReportRow.phone), col(VisitRow.phone)))
            .outerjoin(person, col(person.id) == ReminderRow.staff_id)
            .outerjoin(ReportRow, col(ReportRow.id) == ReminderRow.report_id)
            .outerjoin(VisitRow, col(VisitRow.id) == ReminderRow.visit_id)
            .where(col(ReminderRow.project_id) == project_id, col(ReminderRow.sent_at) >= start,
                   col(ReminderRow.sent_at) < end)
            .order_by(col(ReminderRow.sent_at), col(ReminderRow.id))
        )
        lines = []
        for sent_at, due_at, kind, to_name, receipt_no, phone in (await self.session.execute(stmt)).all():
            assert sent_at is not None  # sent in the period
            lines.append(ReminderLine(sent_at, due_at, kind, to_name, receipt_no, phone))
        return lines
