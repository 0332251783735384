"""Counters that keep no content: e.g. malformed reports per day (SPEC §3: nothing recorded but a counter)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from reportbot.storage.base import Repository
from reportbot.storage.tables import DailyCounterRow


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


class CounterRepository(Repository):
    async def bump(self, name: str, day: str) -> None:
        insert = _insert(self.dialect)
        stmt = (
            insert(DailyCounterRow)
            .values(name=name, day=day, value=1)
            .on_conflict_do_update(
                index_elements=["name", "day"], set_={"value": col(DailyCounterRow.value) + 1}
            )
        )
        await self.session.execute(stmt)

    async def get(self, name: str, day: str) -> int:
        row = await self.session.get(DailyCounterRow, (name, day))
        return row.value if row else 0
