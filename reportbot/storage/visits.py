"""Visits (到访登记) with the ownership decided at them, and the follow-ups that keep an ownership alive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import aliased
from sqlmodel import col

from reportbot.rules.model import Visit
from reportbot.rules.privacy import same_customer
from reportbot.storage.base import Repository, rowcount
from reportbot.storage.tables import DealRow, FollowUpRow, StaffRow, VisitRow

_OWNER = aliased(StaffRow)
_VISIT_SELECT = (
    select(VisitRow, col(_OWNER.name), col(_OWNER.team))
    .outerjoin(_OWNER, col(_OWNER.id) == VisitRow.owner_id)
)


class VisitRepository(Repository):

    @staticmethod
    def _select() -> Any:
        return _VISIT_SELECT

    @staticmethod
    def _visit(row: VisitRow, owner_name: str | None, owner_team: str | None) -> Visit:
        assert row.id is not None
        return Visit(
            id=row.id, project_id=row.project_id, phone=row.phone, at=row.at, rule=row.rule,
            owner_id=row.owner_id, owner_name=owner_name, owner_team=owner_team,
            brought_by_id=row.brought_by_id, companions=row.companions, report_id=row.report_id,
            last_activity_at=row.last_activity_at, lapsed_at=row.lapsed_at, phone_hash=row.phone_hash,
        )

    async def _many(self, stmt: Any) -> list[Visit]:
        return [self._visit(*r) for r in (await self.session.execute(stmt)).all()]

    async def lock_customer(self, project_id: int, phone: str) -> None:
        """Hold this customer (project, masked number) until the transaction ends: visits of one
        customer are then recorded one after another. A visit given with the full number and one given
        masked land in different unique indexes, so on PostgreSQL, where writers run at once, nothing
        else would stop both from being recorded. SQLite's write lock does this already."""
        sql = await self.sql()
        if sql.dialect == "postgresql":
            await sql.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", project_id, phone)

    async def of_customer(self, project_id: int, phone: str, phone_hash: str | None = None) -> Visit | None:
        """The customer's visit: by the masked key, told apart by the keyed hash where both sides have one."""
        stmt = (
            self._select()
            .where(col(VisitRow.project_id) == project_id, col(VisitRow.phone) == phone)
            .order_by(col(VisitRow.id))
        )
        found = [v for v in await self._many(stmt) if same_customer(v.phone_hash, phone_hash)]
        exact = [v for v in found if phone_hash is not None and v.phone_hash == phone_hash]
        chosen = exact or found
        return chosen[0] if chosen else None

    async def get(self, visit_id: int) -> Visit | None:
        found = await self._many(self._select().where(col(VisitRow.id) == visit_id))
        return found[0] if found else None

    async def add(self, row: VisitRow) -> Visit:
        self.session.add(row)
        await self.session.flush()
        visit = await self.get(row.id or 0)
        assert visit is not None
        return visit

    async def set_owner(self, visit_id: int, owner_id: int | None, rule: str, at: datetime) -> None:
        stmt = (
            update(VisitRow)
            .where(col(VisitRow.id) == visit_id)
            .values(owner_id=owner_id, rule=rule, last_activity_at=at, lapsed_at=None)
        )
        await self.session.execute(stmt)

    async def touch(self, visit_id: int, at: datetime) -> None:
        stmt = update(VisitRow).where(col(VisitRow.id) == visit_id).values(last_activity_at=at)
        await self.session.execute(stmt)

    async def lapse(self, visit_id: int, at: datetime) -> bool:
        stmt = (
            update(VisitRow)
            .where(col(VisitRow.id) == visit_id, col(VisitRow.owner_id).is_not(None))
            .values(owner_id=None, lapsed_at=at)
        )
        return bool(rowcount(await self.session.execute(stmt)))

    async def idle_owned(self, before: datetime, limit: int = 500) -> list[Visit]:
        """Visits owned by a canvasser whose last follow-up (or the visit) is older than ``before``."""
        stmt = (
            self._select()
            .where(col(VisitRow.owner_id).is_not(None), col(VisitRow.last_activity_at) <= before)
            .where(~exists().where(col(DealRow.visit_id) == VisitRow.id))  # a sold customer's ownership stays
            # the longest idle first: ix_visit_owned_activity
            .order_by(col(VisitRow.last_activity_at), col(VisitRow.id))
            .limit(limit)
        )
        return await self._many(stmt)

    async def count_between(self, project_id: int, start: datetime, end: datetime) -> int:
        stmt = select(func.count()).where(
            col(VisitRow.project_id) == project_id, col(VisitRow.at) >= start, col(VisitRow.at) < end
        )
        return int((await self.session.execute(stmt)).scalar_one())


class FollowUpRepository(Repository):
    async def add(
        self, project_id: int, phone: str, report_id: int | None, staff_id: int, at: datetime, note: str
    ) -> None:
        self.session.add(
            FollowUpRow(project_id=project_id, phone=phone, report_id=report_id, staff_id=staff_id, at=at, note=note)
        )
        await self.session.flush()

    async def count_since(self, project_id: int, phone: str, since: datetime) -> int:
        stmt = select(func.count()).where(
            col(FollowUpRow.project_id) == project_id, col(FollowUpRow.phone) == phone,
            col(FollowUpRow.at) >= since,
        )
        return int((await self.session.execute(stmt)).scalar_one())
