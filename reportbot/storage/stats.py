"""What happened in a project between two moments, as facts for rules.stats.aggregate (the manager tools)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from reportbot.rules.model import EventKind, Status
from reportbot.rules.stats import Fact, Measure, is_rereport
from reportbot.rules.teams import team_at
from reportbot.storage.staff import TeamChangeRepository
from reportbot.storage.tables import DealRow, EventRow, ReportRow, StaffRow, VisitRow

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
        .where(
            col(prev.project_id) == ReportRow.project_id, col(prev.phone) == ReportRow.phone,
            col(prev.id) < ReportRow.id,
        )
        .order_by(col(prev.id).desc())
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
            select(col(EventRow.at), col(EventRow.actor_id), col(StaffRow.name), col(StaffRow.team))
            .join(StaffRow, col(StaffRow.id) == EventRow.actor_id)
            .where(*self._period(EventRow, project_id, start, end),
                   col(EventRow.kind) == EventKind.DUPLICATE_REFUSED.value)
        ):
            moved.append((Measure.DUPLICATES, at, staff_id, name, team))
        canvasser, bringer = aliased(StaffRow), aliased(StaffRow)
        for at, team, canvasser_id, canvasser_name, brought_id, brought_name, brought_team in await self._rows(
            select(col(VisitRow.at), col(ReportRow.team), col(ReportRow.canvasser_id), col(canvasser.name),
                   col(VisitRow.brought_by_id), col(bringer.name), col(bringer.team))
            .outerjoin(ReportRow, col(ReportRow.id) == VisitRow.report_id)
            .outerjoin(canvasser, col(canvasser.id) == ReportRow.canvasser_id)
            .outerjoin(bringer, col(bringer.id) == VisitRow.brought_by_id)
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
            select(col(DealRow.at), col(DealRow.owner_id), col(StaffRow.name), col(DealRow.team))
            .outerjoin(StaffRow, col(StaffRow.id) == DealRow.owner_id)
            .where(*self._period(DealRow, project_id, start, end))
        ):
            facts.append(Fact(Measure.DEALS, team, owner_id, owner_name))
        return facts

    async def _report_facts(self, project_id: int, start: datetime, end: datetime) -> list[Fact]:
        """Reports, confirmations, rejections and expiries count for the report's canvasser and team."""
        stmt = (
            select(col(EventRow.kind), col(ReportRow.team), col(ReportRow.canvasser_id), col(StaffRow.name),
                   _previous("status"), _previous("canvasser_id"))
            .join(ReportRow, col(ReportRow.id) == EventRow.report_id)
            .join(StaffRow, col(StaffRow.id) == ReportRow.canvasser_id)
            .where(*self._period(EventRow, project_id, start, end),
                   col(EventRow.kind).in_([k.value for k in _REPORT_MEASURES]))
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
