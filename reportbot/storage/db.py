"""Engines and session factories: SQLite (embedded default) or PostgreSQL, chosen by DATABASE_URL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_

from reportbot.storage import sqlite_driver
from reportbot.storage.uow import ENCLOSING, JoinedUnit, UnitOfWork

if TYPE_CHECKING:
    from reportbot.storage.health import Watch

log = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_KEPT_BYTES = 64 * 1024 * 1024


class Database:
    """The two ways into the database: write transactions and read transactions.

    On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so that it holds the write lock
    from its first statement: check-then-insert can then not interleave with another writer, even
    in another process. Reads use a plain deferred ``BEGIN`` on their own engine so that they never
    queue behind writers (WAL lets them read while a write is under way). On PostgreSQL both are the
    same engine; there the partial unique index is the guard and the service retries once.

    On SQLite the write units of this process also queue for an ``asyncio.Lock`` before their
    ``BEGIN IMMEDIATE``: in arrival order, instead of in SQLite's busy handler, which polls with
    sleeps of up to 100 ms (200 simultaneous reports took 1.6 s that way). Other processes are still
    kept out by SQLite's own lock.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self._checkpointer: sqlite_driver.Checkpointer | None = None
        if self.is_sqlite:
            _ensure_sqlite_directory(url)
            self._checkpointer = sqlite_driver.Checkpointer(make_url(url).database or ":memory:")
            self.write_engine = _sqlite_engine(url, self._checkpointer, immediate=True, echo=echo)
            self.read_engine = _sqlite_engine(url, self._checkpointer, immediate=False, echo=echo)
        else:
            self.write_engine = _postgres_engine(url, echo=echo)
            self.read_engine = self.write_engine
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False, class_=AsyncSession)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        if self._checkpointer is not None:
            self._checkpointer.writers = self._write_lock
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False, class_=AsyncSession)
        self._watch: Watch | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def watch(self) -> Watch:
        """This database's health watch (storage/health.py): one per process, shared by every transport."""
        if self._watch is None:
            from reportbot.storage.health import Watch

            self._watch = Watch(self)
        return self._watch

    def uow(self, *, write: bool = True, orm: bool = True, savepoint: bool = True) -> UnitOfWork | JoinedUnit:
        """A unit of work: ``async with db.uow() as uow: ...; await uow.commit()``.

        Inside ``enclosing()`` it is a savepoint of the enclosing transaction instead. ``orm=False``:
        the unit uses only raw statements (storage.sql) and takes no ORM session or savepoint.
        ``savepoint=False`` (with ``orm=False``): inside ``enclosing()`` on PostgreSQL, not even that
        savepoint (``JoinedUnit``: each write one statement, then commit; a failed one raises
        ``TransactionLost``). Outside ``enclosing()`` it changes nothing.
        """
        enclosing = self.enclosing_unit()
        if enclosing is not None:
            return JoinedUnit(enclosing, write=write, orm=orm, savepoint=savepoint)
        if write:
            return self._unit(self.write_engine, self._writer, immediate=True, lock=self._write_lock, orm=orm)
        return self._unit(self.read_engine, self._reader, immediate=False, lock=None, orm=orm)

    def _unit(
        self, engine: AsyncEngine, factory: async_sessionmaker[AsyncSession], *, immediate: bool,
        lock: asyncio.Lock | None, orm: bool,
    ) -> UnitOfWork:
        return UnitOfWork(engine, factory, dialect=self.dialect, immediate=immediate, lock=lock, orm=orm)

    @asynccontextmanager
    async def enclosing(self) -> AsyncIterator[UnitOfWork]:
        """One write transaction that every unit opened inside (in this task) joins; commit it yourself.

        What was handed to ``after_commit`` inside runs once it has committed and let go of its
        connection (and, on SQLite, of the write lock), in order; one that fails is logged and the
        rest still run. None of it runs if it rolled back or the block raised.
        """
        unit = self._unit(self.write_engine, self._writer, immediate=True, lock=self._write_lock, orm=True)
        async with unit as uow:
            token = ENCLOSING.set((id(self), uow))
            try:
                yield uow
            finally:
                ENCLOSING.reset(token)
            committed = uow.committed
        if committed:
            for work in uow.after_commit:
                try:
                    await work()
                except Exception:  # committed is committed: the caller must not take it for a failure
                    log.exception("work after a commit failed")

    def enclosing_unit(self) -> UnitOfWork | None:
        """The enclosing unit open on this database in this task, if any."""
        enclosing = ENCLOSING.get()
        return enclosing[1] if enclosing is not None and enclosing[0] == id(self) else None

    async def after_commit(self, work: Callable[[], Awaitable[object]]) -> None:
        """Run ``work`` once the enclosing transaction has committed; at once when there is none.

        For what must not run inside it: ``settle`` waits for every writer to finish, the enclosing
        one included, so inside it, it would wait for itself (30 s, the busy timeout) and do nothing.
        """
        enclosing = self.enclosing_unit()
        if enclosing is not None:
            enclosing.after_commit.append(work)
        else:
            await work()

    @asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        """This process's SQLite writers held back for the block (nothing on PostgreSQL)."""
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def drop_connections(self) -> None:
        """Close every pooled connection (after an outage): the next unit connects anew. Connections out
        of the pool now are discarded when they come back. SQLite's connections stay: a locked or full
        file is not a dead connection."""
        if self.is_sqlite:
            return
        try:
            await self.write_engine.dispose()
        except Exception:
            log.debug("closing pooled connections failed", exc_info=True)

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
        if self._watch is not None:
            await self._watch.close()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
        if self._checkpointer is not None:
            await self._checkpointer.close()


def _ensure_sqlite_directory(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


# asyncpg waits 60 s for a connection by default: during an outage the bot would look hung that long.
PG_CONNECT_TIMEOUT = 10.0


def _postgres_engine(url: str, *, echo: bool) -> AsyncEngine:
    engine = create_async_engine(url, echo=echo, connect_args={"timeout": PG_CONNECT_TIMEOUT})

    @event.listens_for(engine.sync_engine, "checkout")
    def _drop_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A connection the server closed (a restart, a failover, an idle timeout) is known closed to asyncpg
        # as soon as the event loop saw its socket end: a local check, no round trip. Raising this makes
        # the pool drop it, and every connection pooled before it, and connect anew.
        if dbapi_connection._connection.is_closed():
            raise InvalidatePoolError("the server closed this pooled connection")

    return engine


def _sqlite_engine(
    url: str, checkpointer: sqlite_driver.Checkpointer, *, immediate: bool, echo: bool
) -> AsyncEngine:
    path = make_url(url).database or ":memory:"
    engine = create_async_engine(
        url, echo=echo,
        async_creator=lambda: sqlite_driver.Connection(path, SQLITE_BUSY_TIMEOUT_MS, checkpointer),
    )  # fmt: skip

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
        cursor.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")  # the log file, once it starts over
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver (storage.sqlite_driver): through exec_driver_sql it costs 0.1 ms more.
        # A unit that began with raw statements is in its transaction already: the ORM joins it.
        driver = conn.connection.driver_connection
        if not driver.sqlite.in_transaction:
            await_(driver.begin(immediate=immediate))

    return engine
