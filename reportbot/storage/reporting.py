"""Repositories of the manager tools: deals, team moves, and what statistics and the export read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from reportbot.rules.model import Deal, EventKind, Status
from reportbot.rules.stats import Fact, Measure, is_rereport
from reportbot.rules.teams import TeamChange, team_at
from reportbot.storage.repositories import team_changes
from reportbot.storage.tables import (
    DealRow,
    EventRow,
    ReminderRow,
    ReportRow,
    StaffRow,
    TeamChangeRow,
    VisitRow,
)

_OWNER = aliased(StaffRow)
_RECORDER = aliased(StaffRow)
_DEAL_SELECT = (
    select(DealRow, _OWNER.name, _RECORDER.name)
    .outerjoin(_OWNER, _OWNER.id == DealRow.owner_id)
    .join(_RECORDER, _RECORDER.id == DealRow.recorded_by_id)
)


def _deal(row: DealRow, owner_name: str | None, recorder_name: str) -> Deal:
    assert row.id is not None
    return Deal(row.id, row.project_id, row.phone, row.at, row.owner_id, owner_name, row.team, recorder_name,
                row.report_id, row.note)


class DealRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_customer(self, project_id: int, phone: str) -> Deal | None:
        stmt = _DEAL_SELECT.where(DealRow.project_id == project_id, DealRow.phone == phone)
        found = (await self.session.execute(stmt)).first()
        return _deal(*found) if found else None

    async def add(self, row: DealRow) -> Deal:
        """Insert a deal; the unique (project, phone) makes a second one for the customer fail."""
        self.session.add(row)
        await self.session.flush()
        deal = await self.of_customer(row.project_id, row.phone)
        assert deal is not None
        return deal

    async def between(self, project_id: int, start: datetime, end: datetime) -> list[Deal]:
        stmt = _DEAL_SELECT.where(DealRow.project_id == project_id, DealRow.at >= start, DealRow.at < end)
        return [_deal(*r) for r in (await self.session.execute(stmt.order_by(DealRow.at, DealRow.id))).all()]


class TeamChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def move(self, staff_id: int, from_team: str, to_team: str, at: datetime, by_id: int) -> bool:
        """Move a person to another team, recording the change; False if they were not in ``from_team``
        any more (somebody moved them a moment earlier)."""
        stmt = update(StaffRow).where(StaffRow.id == staff_id, StaffRow.team == from_team).values(team=to_team)
        if not (await self.session.execute(stmt)).rowcount:  # type: ignore[attr-defined]
            return False
        self.session.add(TeamChangeRow(staff_id=staff_id, from_team=from_team, to_team=to_team, at=at, by_id=by_id))
        await self.session.flush()
        return True

    async def of_staff(self, staff_ids: Iterable[int]) -> dict[int, list[TeamChange]]:
        return await team_changes(self.session, set(staff_ids))


_REPORT_MEASURES = {
    EventKind.REPORTED: Measure.REPORTS,
    EventKind.CONFIRMED: Measure.CONFIRMED,
    EventKind.REJECTED: Measure.REJECTED,
    EventKind.EXPIRED: Measure.EXPIRED,
}


def _previous(column: Any) -> Any:
    """The given column of the customer's report just before the outer one (None for the first)."""
    prev = aliased(ReportRow)
    return (
        select(getattr(prev, column))
        .where(prev.project_id == ReportRow.project_id, prev.phone == ReportRow.phone, prev.id < ReportRow.id)
        .order_by(prev.id.desc())
        .limit(1)
        .correlate(ReportRow)
        .scalar_subquery()
    )


class StatsRepository:
    """What happened in a project between two moments, as facts for rules.stats.aggregate."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._teams = TeamChangeRepository(session)

    async def facts(self, project_id: int, start: datetime, end: datetime) -> list[Fact]:
        facts = await self._report_facts(project_id, start, end)
        moved: list[tuple[Measure, datetime, int, str, str]] = []  # counted for the team a person was in then
        for at, staff_id, name, team in await self._rows(
            select(EventRow.at, EventRow.actor_id, StaffRow.name, StaffRow.team)
            .join(StaffRow, StaffRow.id == EventRow.actor_id)
            .where(*self._period(EventRow, project_id, start, end), EventRow.kind == EventKind.DUPLICATE_REFUSED.value)
        ):
            moved.append((Measure.DUPLICATES, at, staff_id, name, team))
        canvasser, bringer = aliased(StaffRow), aliased(StaffRow)
        for at, team, canvasser_id, canvasser_name, brought_id, brought_name, brought_team in await self._rows(
            select(VisitRow.at, ReportRow.team, ReportRow.canvasser_id, canvasser.name, VisitRow.brought_by_id,
                   bringer.name, bringer.team)
            .outerjoin(ReportRow, ReportRow.id == VisitRow.report_id)
            .outerjoin(canvasser, canvasser.id == ReportRow.canvasser_id)
            .outerjoin(bringer, bringer.id == VisitRow.brought_by_id)
            .where(*self._period(VisitRow, project_id, start, end))
        ):
            if canvasser_id is not None:  # the report decided ownership at the visit
                facts.append(Fact(Measure.VISITS, team, canvasser_id, canvasser_name))
            elif brought_id is not None:  # brought in person, nobody held the customer
                moved.append((Measure.VISITS, at, brought_id, brought_name, brought_team))
            else:  # a natural visitor: the office's
                facts.append(Fact(Measure.VISITS, None, None, None))
        changes = await self._teams.of_staff(staff_id for _, _, staff_id, _, _ in moved)
        for measure, at, staff_id, name, current in moved:
            facts.append(Fact(measure, team_at(current, changes.get(staff_id, []), at), staff_id, name))
        for _, owner_id, owner_name, team in await self._rows(
            select(DealRow.at, DealRow.owner_id, StaffRow.name, DealRow.team)
            .outerjoin(StaffRow, StaffRow.id == DealRow.owner_id)
            .where(*self._period(DealRow, project_id, start, end))
        ):
            facts.append(Fact(Measure.DEALS, team, owner_id, owner_name))
        return facts

    async def _report_facts(self, project_id: int, start: datetime, end: datetime) -> list[Fact]:
        """Reports, confirmations, rejections and expiries count for the report's canvasser and team."""
        stmt = (
            select(EventRow.kind, ReportRow.team, ReportRow.canvasser_id, StaffRow.name,
                   _previous("status"), _previous("canvasser_id"))
            .join(ReportRow, ReportRow.id == EventRow.report_id)
            .join(StaffRow, StaffRow.id == ReportRow.canvasser_id)
            .where(*self._period(EventRow, project_id, start, end),
                   EventRow.kind.in_([k.value for k in _REPORT_MEASURES]))
        )
        facts = []
        for kind, team, canvasser_id, name, previous_status, previous_canvasser in await self._rows(stmt):
            measure = _REPORT_MEASURES[EventKind(kind)]
            facts.append(Fact(measure, team, canvasser_id, name))
            previous = Status(previous_status) if previous_status else None
            if measure is Measure.REPORTS and is_rereport(previous, previous_canvasser, canvasser_id):
                facts.append(Fact(Measure.REREPORTS, team, canvasser_id, name))
        return facts

    @staticmethod
    def _period(table: Any, project_id: int, start: datetime, end: datetime) -> tuple[Any, ...]:
        return table.project_id == project_id, table.at >= start, table.at < end

    async def _rows(self, stmt: Any) -> list[Any]:
        return list((await self.session.execute(stmt)).all())


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
            select(ReportRow, canvasser.name, filer.name, decider.name)
            .join(canvasser, canvasser.id == ReportRow.canvasser_id)
            .join(filer, filer.id == ReportRow.filed_by_id)
            .outerjoin(decider, decider.id == ReportRow.decided_by_id)
            .where(ReportRow.project_id == project_id, ReportRow.reported_at >= start, ReportRow.reported_at < end)
            .order_by(ReportRow.reported_at, ReportRow.id)
        )
        return [
            ReportLine(r.receipt_no, r.customer, r.phone, r.team, c, f, r.reported_at, r.appointment_at,
                       r.valid_until, Status(r.status), d, r.decided_at, r.reject_reason, r.note, r.reason, r.id or 0)
            for r, c, f, d in (await self.session.execute(stmt)).all()
        ]

    async def events(self, project_id: int, start: datetime, end: datetime) -> list[EventLine]:
        """Every event of the period, and every event of the reports filed in it (their status history)."""
        filed = select(ReportRow.id).where(
            ReportRow.project_id == project_id, ReportRow.reported_at >= start, ReportRow.reported_at < end
        )
        in_period = (EventRow.at >= start) & (EventRow.at < end)
        stmt = (
            select(EventRow, StaffRow.name, StaffRow.team, ReportRow.receipt_no, ReportRow.team)
            .join(StaffRow, StaffRow.id == EventRow.actor_id)
            .outerjoin(ReportRow, ReportRow.id == EventRow.report_id)
            .where(EventRow.project_id == project_id, in_period | EventRow.report_id.in_(filed))
            .order_by(EventRow.at, EventRow.id)
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
            select(VisitRow, ReportRow.customer, ReportRow.receipt_no, owner.name, owner.team, bringer.name,
                   registrar.name)
            .outerjoin(ReportRow, ReportRow.id == VisitRow.report_id)
            .outerjoin(owner, owner.id == VisitRow.owner_id)
            .outerjoin(bringer, bringer.id == VisitRow.brought_by_id)
            .join(registrar, registrar.id == VisitRow.registered_by_id)
            .where(VisitRow.project_id == project_id, VisitRow.at >= start, VisitRow.at < end)
            .order_by(VisitRow.at, VisitRow.id)
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
            select(ReminderRow.sent_at, ReminderRow.due_at, ReminderRow.kind, person.name, ReportRow.receipt_no,
                   func.coalesce(ReportRow.phone, VisitRow.phone))
            .outerjoin(person, person.id == ReminderRow.staff_id)
            .outerjoin(ReportRow, ReportRow.id == ReminderRow.report_id)
            .outerjoin(VisitRow, VisitRow.id == ReminderRow.visit_id)
            .where(ReminderRow.project_id == project_id, ReminderRow.sent_at >= start, ReminderRow.sent_at < end)
            .order_by(ReminderRow.sent_at, ReminderRow.id)
        )
        return [ReminderLine(*row) for row in (await self.session.execute(stmt)).all()]
