"""Engines and session factories: SQLite (embedded default) or PostgreSQL, chosen by DATABASE_URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from reportbot.storage.uow import ENCLOSING, JoinedUnit, UnitOfWork

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Database:
    """The two ways into the database: write transactions and read transactions.

    On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so that it holds the write lock
    from its first statement: check-then-insert can then not interleave with another writer, even
    in another process. Reads use a plain deferred ``BEGIN`` on their own engine so that they never
    queue behind writers (WAL lets them read while a write is under way). On PostgreSQL both are the
    same engine; there the partial unique index is the guard and the service retries once.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.is_sqlite:
            _ensure_sqlite_directory(url)
            self.write_engine = _sqlite_engine(url, immediate=True, echo=echo)
            self.read_engine = _sqlite_engine(url, immediate=False, echo=echo)
        else:
            self.write_engine = create_async_engine(url, echo=echo)
            self.read_engine = self.write_engine
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False, class_=AsyncSession)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False, class_=AsyncSession)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def uow(self, *, write: bool = True) -> UnitOfWork | JoinedUnit:
        """A unit of work: ``async with db.uow() as uow: ...; await uow.commit()``.

        Inside ``enclosing()`` it is a savepoint of the enclosing transaction instead.
        """
        enclosing = ENCLOSING.get()
        if enclosing is not None and enclosing[0] == id(self):
            return JoinedUnit(enclosing[1])
        return UnitOfWork(self._writer if write else self._reader, dialect=self.dialect)

    @asynccontextmanager
    async def enclosing(self) -> AsyncIterator[UnitOfWork]:
        """One write transaction that every unit opened inside (in this task) joins; commit it yourself."""
        async with UnitOfWork(self._writer, dialect=self.dialect) as uow:
            token = ENCLOSING.set((id(self), uow))
            try:
                yield uow
            finally:
                ENCLOSING.reset(token)

    async def settle(self) -> None:
        """After an erasure: on SQLite copy the WAL into the file and empty it, so that (with
        ``secure_delete``) the erased bytes are gone from both. PostgreSQL's VACUUM does this in time."""
        if not self.is_sqlite:
            return

        def checkpoint(sync_conn: Any) -> None:  # outside any transaction: ours would pin the WAL
            cursor = sync_conn.connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.fetchall()
            cursor.close()

        async with self.write_engine.connect() as conn:
            await conn.run_sync(checkpoint)

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def _ensure_sqlite_directory(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver, so that we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")  # erased values are overwritten, not left in free space
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine
