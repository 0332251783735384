"""Statements straight to the driver, inside a unit of work's transaction: the hot path without the ORM.

Through SQLAlchemy a statement costs 75–270 µs of CPU here (ORM select built per call: 270, prebuilt
Core: 110, ``exec_driver_sql``: 75); the same statement on the stdlib sqlite3 connection costs 3 µs.
The report pipeline runs about a dozen statements per report, so its repositories use this instead.

SQL is written once, with PostgreSQL's ``$1 … $n`` placeholders; on SQLite they become ``?1 … ?n``
(numbered parameters) and aware datetimes are bound as SQLAlchemy stores them there (naive UTC text
with microseconds), so rows written here and rows written through the ORM compare and sort alike.

On SQLite a *write* unit holds the write lock from ``BEGIN IMMEDIATE`` on (taken on aiosqlite's
thread, where waiting for another process's lock blocks nobody). In WAL mode nothing after that can
wait for a lock, so its statements run inline, on the event loop's thread, instead of paying a hop
to aiosqlite's thread per call. A read unit's statements still take the hop. Only point lookups
and inserts belong here: a statement that may scan many rows stays on the ORM path (a thread).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError

from reportbot.storage.sqlite_driver import Connection as SqliteConnection

Row = Sequence[Any]


class Sql(Protocol):
    """Raw statements on the unit's connection, in its transaction."""

    dialect: str

    async def row(self, stmt: str, *args: Any) -> Row | None:
        """The first row, or None."""

    async def value(self, stmt: str, *args: Any) -> Any:
        """The first column of the first row, or None."""

    async def rows(self, stmt: str, *args: Any) -> list[Row]: ...

    async def execute(self, stmt: str, *args: Any) -> None: ...

    async def execute_many(self, stmt: str, args: Iterable[Sequence[Any]]) -> None: ...

    def time(self, stored: Any) -> datetime | None:
        """A stored time as an aware UTC datetime."""


@lru_cache(maxsize=256)
def qmark(stmt: str) -> str:
    """``$n`` → ``?n``: the same numbered parameters in SQLite's spelling."""
    return re.sub(r"\$(\d+)", r"?\1", stmt)


@lru_cache(maxsize=1024)  # a report binds the same few times (its arrival, its reminders) a dozen times
def _stored_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime refused: the ledger stores aware UTC times only")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _bind(args: Sequence[Any]) -> list[Any]:
    return [_stored_time(a) if isinstance(a, datetime) else a for a in args]


class SqliteSql:
    """Statements on the unit's sqlite3 connection: inline while the unit holds the write lock, else a hop."""

    dialect = "sqlite"

    def __init__(self, driver: SqliteConnection, *, inline: bool) -> None:
        self._driver = driver  # the connection SQLAlchemy holds (storage.sqlite_driver)
        self._conn = driver.sqlite
        self._inline = inline

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self._driver.call(fn, *args, inline=self._inline)

    def _fetch(self, stmt: str, args: tuple[Any, ...], many: bool) -> Any:
        params = _bind(args)
        try:
            cursor = self._conn.execute(qmark(stmt), params)
            try:
                return cursor.fetchall() if many else cursor.fetchone()
            finally:
                cursor.close()
        except sqlite3.IntegrityError as exc:  # the same exception as through the ORM
            raise IntegrityError(stmt, params, exc) from exc

    def _execute_many(self, stmt: str, args: list[list[Any]]) -> None:
        try:
            self._conn.executemany(qmark(stmt), args).close()
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(stmt, args, exc) from exc

    async def row(self, stmt: str, *args: Any) -> Row | None:
        found: Row | None = await self._call(self._fetch, stmt, args, False)
        return found

    async def value(self, stmt: str, *args: Any) -> Any:
        found = await self.row(stmt, *args)
        return None if found is None else found[0]

    async def rows(self, stmt: str, *args: Any) -> list[Row]:
        found: list[Row] = await self._call(self._fetch, stmt, args, True)
        return found

    async def execute(self, stmt: str, *args: Any) -> None:
        await self._call(self._fetch, stmt, args, True)

    async def execute_many(self, stmt: str, args: Iterable[Sequence[Any]]) -> None:
        await self._call(self._execute_many, stmt, [_bind(one) for one in args])

    def time(self, stored: Any) -> datetime | None:
        if stored is None:
            return None
        return datetime.fromisoformat(stored).replace(tzinfo=UTC)


class PostgresSql:
    """Statements on the unit's asyncpg connection (asyncpg prepares and caches each one)."""

    dialect = "postgresql"

    def __init__(self, driver: Any) -> None:
        import asyncpg  # only where PostgreSQL is in use

        self._conn = driver  # the asyncpg.Connection SQLAlchemy holds, its transaction already begun
        self._integrity = asyncpg.IntegrityConstraintViolationError

    async def _call(self, method: Callable[..., Awaitable[Any]], stmt: str, *args: Any) -> Any:
        try:
            return await method(stmt, *args)
        except self._integrity as exc:  # the same exception as through the ORM
            raise IntegrityError(stmt, args, exc) from exc

    async def row(self, stmt: str, *args: Any) -> Row | None:
        found: Row | None = await self._call(self._conn.fetchrow, stmt, *args)
        return found

    async def value(self, stmt: str, *args: Any) -> Any:
        return await self._call(self._conn.fetchval, stmt, *args)

    async def rows(self, stmt: str, *args: Any) -> list[Row]:
        return list(await self._call(self._conn.fetch, stmt, *args))

    async def execute(self, stmt: str, *args: Any) -> None:
        await self._call(self._conn.execute, stmt, *args)

    async def execute_many(self, stmt: str, args: Iterable[Sequence[Any]]) -> None:
        await self._call(self._conn.executemany, stmt, list(args))

    def time(self, stored: Any) -> datetime | None:
        return None if stored is None else stored.astimezone(UTC)


def values_list(rows: int, columns: int) -> str:
    """``($1, $2), ($3, $4)`` for a multi-row INSERT of ``rows`` rows."""
    return ", ".join(
        "(" + ", ".join(f"${r * columns + c + 1}" for c in range(columns)) + ")" for r in range(rows)
    )
