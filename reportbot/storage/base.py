"""What every repository stands on: the unit of work it runs in.

Repositories are the only code that touches rows; everything leaves them as a rules.model dataclass
(or a small frozen dataclass of their own). One module per aggregate, its statements beside it.

The statements of the report pipeline (who is writing, the customer's state, the receipt number, the
report, its event and reminders, the delivery key and the outbox) go straight to the driver through
``sql`` (storage/sql.py): through the ORM they cost ten times the database's own work. Everything
else goes through the ORM session; both share the unit's transaction.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.ext.asyncio import AsyncSession

from reportbot.storage.sql import Sql

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL


class Unit(Protocol):
    """What a repository needs of its unit of work (storage.uow)."""

    dialect: str

    @property
    def session(self) -> AsyncSession: ...

    async def sql(self) -> Sql: ...


class Repository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit
        self.dialect = unit.dialect

    @property
    def session(self) -> AsyncSession:
        """The unit's ORM session, opened on the unit's connection when first asked for."""
        return self._unit.session

    async def sql(self) -> Sql:
        return await self._unit.sql()


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched: its result is a CursorResult, though the session's ``execute``
    is typed for every kind of statement."""
    return cast(CursorResult[Any], result).rowcount


def stored_id(row_id: int | None) -> int:
    """The id of a row read back from the database (SQLModel types it ``int | None``: None before the insert)."""
    assert row_id is not None
    return row_id
