"""Deals (成交) of visited customers, counted for whoever owned the customer then (the manager tools)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from reportbot.rules.model import Deal
from reportbot.storage.tables import DealRow, StaffRow

_OWNER = aliased(StaffRow)
_RECORDER = aliased(StaffRow)
_DEAL_SELECT = (
    select(DealRow, col(_OWNER.name), col(_RECORDER.name))
    .outerjoin(_OWNER, col(_OWNER.id) == DealRow.owner_id)
    .join(_RECORDER, col(_RECORDER.id) == DealRow.recorded_by_id)
)


def _deal(row: DealRow, owner_name: str | None, recorder_name: str) -> Deal:
    assert row.id is not None
    return Deal(row.id, row.project_id, row.phone, row.at, row.owner_id, owner_name, row.team, recorder_name,
                row.report_id, row.note)


class DealRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_customer(self, project_id: int, phone: str) -> Deal | None:
        stmt = _DEAL_SELECT.where(col(DealRow.project_id) == project_id, col(DealRow.phone) == phone)
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
        stmt = (
            _DEAL_SELECT
            .where(col(DealRow.project_id) == project_id, col(DealRow.at) >= start, col(DealRow.at) < end)
            .order_by(col(DealRow.at), col(DealRow.id))
        )
        return [_deal(*r) for r in (await self.session.execute(stmt)).all()]
