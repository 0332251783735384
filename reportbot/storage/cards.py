"""Gathered cards: which reports a group message lists, and which card is each report's live one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reportbot.storage.base import MAX_ROW_ID
from reportbot.storage.transport_tables import GroupCardReportRow, GroupCardRow


class CardRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, channel: str, chat_id: str, report_ids: Sequence[int], now: datetime) -> int:
        """A new card listing these reports in this order; from now on it is the live card of each."""
        row = GroupCardRow(channel=channel, chat_id=chat_id, created_at=now)
        self.session.add(row)
        await self.session.flush()
        assert row.id is not None
        self.session.add_all(
            [GroupCardReportRow(card_id=row.id, report_id=rid, position=n) for n, rid in enumerate(report_ids)]
        )
        await self.session.flush()
        return row.id

    async def reports_on(self, card_id: int) -> list[int]:
        """The reports a card lists, in its order (empty: no such card)."""
        if not 0 < card_id <= MAX_ROW_ID:  # forged button data: no such row, and PostgreSQL would refuse
            return []
        rows = await self.session.execute(
            select(col(GroupCardReportRow.report_id)).where(col(GroupCardReportRow.card_id) == card_id)
            .order_by(col(GroupCardReportRow.position))
        )
        return list(rows.scalars())

    async def live_cards(self, report_ids: Sequence[int]) -> dict[int, int]:
        """report id → the newest card it is on (reports never gathered are left out)."""
        report_ids = [r for r in report_ids if 0 < r <= MAX_ROW_ID]
        if not report_ids:
            return {}
        rows = await self.session.execute(
            select(col(GroupCardReportRow.report_id), func.max(col(GroupCardReportRow.card_id)))
            .where(col(GroupCardReportRow.report_id).in_(sorted(set(report_ids))))
            .group_by(col(GroupCardReportRow.report_id))
        )
        return {int(rid): int(card) for rid, card in rows.all()}
