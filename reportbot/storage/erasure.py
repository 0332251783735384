"""Forgetting a customer (SPEC §9): the one sanctioned change to written rows.

Name, phone, hash and free text go; dates, teams, statuses, event kinds and the chain stay. Every row
of the customer gets the same tombstone in place of the phone, so the anonymous history still hangs
together and the audit chain (which commits to a salted digest of the erased fields) still verifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reportbot.rules.audit import PERSONAL_DETAIL_KINDS
from reportbot.rules.privacy import FORGOTTEN_NAME
from reportbot.storage.tables import DealRow, EventRow, FollowUpRow, PublicCustomerRow, ReportRow, VisitRow
from reportbot.storage.transport_tables import OutboxRow


@dataclass(frozen=True)
class Footprint:
    """What the ledger holds about one customer key: shown to the manager before erasing."""

    reports: int
    visits: int
    follow_ups: int
    events: int
    first_event_id: int | None

    @property
    def empty(self) -> bool:
        return not (self.reports or self.visits or self.follow_ups or self.events)


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def footprint(self, project_id: int, phone: str) -> Footprint:
        async def count(table: Any) -> int:
            stmt = select(func.count()).where(table.project_id == project_id, table.phone == phone)
            return int((await self.session.execute(stmt)).scalar_one())

        first = select(func.min(col(EventRow.id))).where(
            col(EventRow.project_id) == project_id, col(EventRow.phone) == phone
        )
        return Footprint(
            reports=await count(ReportRow),
            visits=await count(VisitRow),
            follow_ups=await count(FollowUpRow),
            events=await count(EventRow),
            first_event_id=(await self.session.execute(first)).scalar_one_or_none(),
        )

    async def forget(self, project_id: int, phone: str, tombstone: str) -> None:
        """Replace the customer's personal fields in every row of the project; keep the skeleton."""
        session = self.session
        await session.execute(
            update(ReportRow)
            .where(col(ReportRow.project_id) == project_id, col(ReportRow.phone) == phone)
            .values(customer=FORGOTTEN_NAME, phone=tombstone, phone_hash=None, note=None, reason=None)
        )
        # A forgotten visit keeps a unique, meaningless token where the hash was, so that the
        # one-visit-per-customer indexes hold when customers told apart by hash are forgotten together.
        await session.execute(
            update(VisitRow)
            .where(col(VisitRow.project_id) == project_id, col(VisitRow.phone) == phone)
            .values(phone=tombstone, phone_hash=literal("forgotten:") + cast(col(VisitRow.id), String))
        )
        await session.execute(
            update(FollowUpRow)
            .where(col(FollowUpRow.project_id) == project_id, col(FollowUpRow.phone) == phone)
            .values(phone=tombstone, note=FORGOTTEN_NAME)
        )
        # Answers already sent (kept a week for redelivery) quote the customer; ones still owed go out first.
        await session.execute(
            delete(OutboxRow)
            .where(col(OutboxRow.state).in_(("sent", "failed")), col(OutboxRow.payload).contains(phone))
        )
        await session.execute(
            update(DealRow).where(col(DealRow.project_id) == project_id, col(DealRow.phone) == phone)
            .values(phone=tombstone, note=None)
        )
        await session.execute(
            update(PublicCustomerRow)
            .where(col(PublicCustomerRow.project_id) == project_id, col(PublicCustomerRow.phone) == phone)
            .values(phone=tombstone)
        )
        events = (col(EventRow.project_id) == project_id, col(EventRow.phone) == phone)
        await session.execute(
            update(EventRow)
            .where(*events, col(EventRow.kind).in_(sorted(PERSONAL_DETAIL_KINDS)))
            .values(detail=None)
        )
        await session.execute(update(EventRow).where(*events).values(phone=tombstone, salt=None))
