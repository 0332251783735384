"""The unit of work: one connection, one transaction, the repositories that share it.

A unit starts on a pooled driver connection. The hot repositories send their statements straight to
the driver (``sql()``, storage/sql.py); the ORM session is opened on the same connection the first
time a repository asks for it, so a unit that needs no ORM pays for none of it (a session, its
connection and its transaction cost 0.2 ms of CPU a unit here, as much as the report's own SQL).

A unit opened while an *enclosing* one is open on the same database (``Database.enclosing``) joins
it as a savepoint: its ``commit`` ends its part (on PostgreSQL a raw savepoint is left open, not
released: one round trip fewer) and the enclosing unit commits everything at once. That is how an
incoming message, what its use case records and the answers it is owed become one transaction,
without the use cases knowing. A joined unit opened for reading needs no savepoint;
one opened with ``orm=False`` takes a plain SQL savepoint instead of the session's (and may then not
use the ORM, whose session would not know of that savepoint). One opened with ``savepoint=False`` as
well takes none on PostgreSQL, where a savepoint is a round trip: a statement that fails in it then
aborts the enclosing transaction, and the unit says so with ``TransactionLost``.

A use case takes either kind as a ``Work``: the same repositories, session, statements, commit and rollback.
"""

from __future__ import annotations

import asyncio
import itertools
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
)
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from reportbot.storage.cards import CardRepository
from reportbot.storage.counters import CounterRepository
from reportbot.storage.deadletters import DeadLetterRepository
from reportbot.storage.deals import DealRepository
from reportbot.storage.deliveries import DeliveryRepository
from reportbot.storage.erasure import ErasureRepository
from reportbot.storage.events import EventRepository
from reportbot.storage.imports import ImportRepository
from reportbot.storage.ledger import LedgerRepository
from reportbot.storage.projects import ProjectRepository
from reportbot.storage.reminders import ReminderRepository
from reportbot.storage.reports import ReportRepository
from reportbot.storage.sql import PostgresSql, Sql, SqliteSql
from reportbot.storage.staff import StaffRepository, TeamChangeRepository
from reportbot.storage.stats import StatsRepository
from reportbot.storage.visits import FollowUpRepository, VisitRepository
from reportbot.storage.web import WebRepository


class TransactionLost(Exception):
    """A statement failed in a joined unit that took no savepoint (``Database.uow(savepoint=False)``).

    On PostgreSQL the enclosing transaction is aborted with it: nothing more can run in it. Whoever
    opened that transaction rolls it back and does the work again (``handlers.delivery.handle_once``).
    """


class Work(ABC):
    """What a use case sees of a unit of work, whether it began the transaction (UnitOfWork) or joined an
    enclosing one (JoinedUnit): the repositories, the session and raw statements, commit and rollback."""

    dialect: str
    # The report pipeline's repositories, built once per unit.
    projects: ProjectRepository
    staff: StaffRepository
    reports: ReportRepository
    events: EventRepository
    counters: CounterRepository
    visits: VisitRepository
    follow_ups: FollowUpRepository
    reminders: ReminderRepository
    deliveries: DeliveryRepository

    @property
    @abstractmethod
    def session(self) -> AsyncSession:
        """The ORM session of the transaction."""

    @abstractmethod
    async def sql(self) -> Sql:
        """Raw statements in the transaction (storage/sql.py)."""

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None: ...

    # These repositories take the session itself: built when first used.
    @property
    def deals(self) -> DealRepository:
        return DealRepository(self.session)

    @property
    def team_changes(self) -> TeamChangeRepository:
        return TeamChangeRepository(self.session)

    @property
    def stats(self) -> StatsRepository:
        return StatsRepository(self.session)

    @property
    def ledger(self) -> LedgerRepository:
        return LedgerRepository(self.session)

    @property
    def erasure(self) -> ErasureRepository:
        return ErasureRepository(self.session)

    @property
    def imports(self) -> ImportRepository:
        """An imported spreadsheet's bulk reads and writes (issue 27): raw statements and the session."""
        return ImportRepository(self)

    @property
    def dead_letters(self) -> DeadLetterRepository:
        return DeadLetterRepository(self.session)

    @property
    def web(self) -> WebRepository:
        return WebRepository(self.session)

    @property
    def cards(self) -> CardRepository:
        return CardRepository(self.session)


class UnitOfWork(Work):
    """``async with`` it, do the work through its repositories, ``await commit()``; else rolled back."""

    def __init__(
        self,
        engine: AsyncEngine,
        factory: async_sessionmaker[AsyncSession],
        *,
        dialect: str,
        immediate: bool,
        lock: asyncio.Lock | None = None,
        orm: bool = True,
    ) -> None:
        self._engine = engine
        self._factory = factory
        self.dialect = dialect
        self._immediate = immediate  # SQLite: BEGIN IMMEDIATE (a write unit) or a deferred BEGIN
        self._lock = lock  # SQLite write units: this process's writers queue here (Database)
        self._orm = orm

    async def __aenter__(self) -> Self:
        if self._lock is not None:
            if _LOCK_HOLDER.get() is self._lock:
                raise RuntimeError("a write unit inside another on SQLite would wait for itself forever")
            await self._lock.acquire()
            self._holder_token = _LOCK_HOLDER.set(self._lock)
        try:
            self._raw: PoolProxiedConnection = await self._engine.raw_connection()
        except BaseException:
            self._unlock()
            raise
        self._connection: AsyncConnection | None = None  # the ORM's view of the same connection
        self._session: AsyncSession | None = None
        self._sql: Sql | None = None
        self._raw_savepoints = 0  # raw savepoints neither committed nor rolled back: the ORM must wait
        self._savepoint_names = itertools.count(1)
        self._committed = False
        # Work to run once this unit, as the enclosing one, has committed (Database.after_commit).
        self.after_commit: list[Callable[[], Awaitable[object]]] = []
        if self.dialect == "sqlite":  # asked before every statement: kept at hand
            driver: Any = self._raw.driver_connection  # storage.sqlite_driver.Connection
            self._sqlite = driver.sqlite
        self.projects = ProjectRepository(self)
        self.staff = StaffRepository(self)
        self.reports = ReportRepository(self)
        self.events = EventRepository(self)
        self.counters = CounterRepository(self)
        self.visits = VisitRepository(self)
        self.follow_ups = FollowUpRepository(self)
        self.reminders = ReminderRepository(self)
        self.deliveries = DeliveryRepository(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                await self.rollback()
        finally:
            try:
                await self._release()
            finally:
                self._unlock()

    @property
    def committed(self) -> bool:
        return self._committed

    def _unlock(self) -> None:
        if self._lock is not None:
            _LOCK_HOLDER.reset(self._holder_token)
            self._lock.release()

    @property
    def session(self) -> AsyncSession:
        """The ORM session, on the unit's connection; opened when first asked for."""
        if self._session is None:
            if not self._orm:
                raise RuntimeError("this unit was opened for raw statements only (orm=False)")
            if self._raw_savepoints:
                raise RuntimeError("the ORM would not know of this raw savepoint: open the unit with orm=True")
            # The session joins the unit's connection, in whatever transaction it is (that Connection
            # now returns it to the pool).
            joined = Connection(self._engine.sync_engine, connection=self._raw)
            self._connection = AsyncConnection(self._engine, joined)
            self._session = self._factory(bind=self._connection)
        return self._session

    async def sql(self) -> Sql:
        """Raw statements in this unit's transaction (begun here if need be; pending ORM changes flushed)."""
        if self._sql is None:
            driver: Any = self._raw.driver_connection
            inline = self._lock is not None
            self._sql = SqliteSql(driver, inline=inline) if self.dialect == "sqlite" else PostgresSql(driver)
        if (session := self._session) is not None and (session.new or session.dirty or session.deleted):
            await session.flush()
        await self._begin()
        return self._sql

    def _in_transaction(self) -> bool:
        if self.dialect == "sqlite":
            return bool(self._sqlite.in_transaction)
        adapted: Any = self._raw.dbapi_connection  # SQLAlchemy's asyncpg adapter
        return adapted._transaction is not None

    async def _begin(self) -> None:
        """Begin the driver's transaction unless it is in one (after a commit, a new one)."""
        if self._in_transaction():
            return
        if self.dialect == "sqlite":
            driver: Any = self._raw.driver_connection  # storage.sqlite_driver.Connection
            await driver.begin(immediate=self._immediate)
        else:  # SQLAlchemy's asyncpg adapter would begin it lazily, at its own first statement
            adapted: Any = self._raw.dbapi_connection
            await adapted._start_transaction()

    async def commit(self) -> None:
        """Commit what the session and the raw statements did: one transaction."""
        if self._session is not None:
            await self._session.commit()
        if self._in_transaction():  # raw statements only, or the session never began
            await self._end(commit=True)
        self._committed = True

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()
        if self._in_transaction():
            await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        if self.dialect == "sqlite":
            driver: Any = self._raw.driver_connection
            await (driver.commit() if commit else driver.rollback())
        else:
            adapted: Any = self._raw.dbapi_connection
            await greenlet_spawn(adapted.commit if commit else adapted.rollback)

    async def _release(self) -> None:
        """Back to the pool (which rolls back whatever is left)."""
        try:
            if self._session is not None:
                await self._session.close()
        finally:
            if self._connection is not None:
                await self._connection.close()
            else:
                await greenlet_spawn(self._raw.close)

    def open_raw_savepoint(self) -> str:
        """A new savepoint's name, unique in this transaction (a committed one is left open: JoinedUnit)."""
        self._raw_savepoints += 1
        return f"raw_unit_{next(self._savepoint_names)}"

    def close_raw_savepoint(self) -> None:
        self._raw_savepoints -= 1


# (database identity, unit): the unit that units opened on that database join.
ENCLOSING: ContextVar[tuple[int, UnitOfWork] | None] = ContextVar("reportbot_enclosing_unit", default=None)
# The write lock this task holds, so that a nested write unit fails at once instead of waiting for itself.
_LOCK_HOLDER: ContextVar[asyncio.Lock | None] = ContextVar("reportbot_write_lock_holder", default=None)


class JoinedUnit(Work):
    """A unit inside an enclosing one: a savepoint with the enclosing unit's repositories (none to read).

    ``savepoint=False`` (raw units only): on PostgreSQL no savepoint, one round trip fewer. Leaving such
    a unit without ``commit`` then undoes nothing, and a failed statement loses the whole enclosing
    transaction; so each of its writes must be one statement, followed by ``commit``. An integrity
    error in it (the partial unique index turning a second active report away) is raised as
    ``TransactionLost``, not caught and retried inside a transaction that is gone. SQLite takes the
    savepoint anyway: there it is a call, not a round trip, and its filing is several statements.
    """

    def __init__(self, outer: UnitOfWork, *, write: bool = True, orm: bool = True, savepoint: bool = True) -> None:
        self._outer = outer
        self.dialect = outer.dialect
        self._write = write
        self._orm = orm
        self._bare = write and not orm and not savepoint and outer.dialect == "postgresql"
        self.projects, self.staff, self.reports = outer.projects, outer.staff, outer.reports
        self.events, self.counters, self.visits = outer.events, outer.counters, outer.visits
        self.follow_ups, self.reminders, self.deliveries = outer.follow_ups, outer.reminders, outer.deliveries

    @property
    def session(self) -> AsyncSession:
        """The enclosing unit's session (this unit's savepoint is taken in it)."""
        return self._outer.session

    async def sql(self) -> Sql:
        return await self._outer.sql()

    async def __aenter__(self) -> Self:
        self._savepoint: AsyncSessionTransaction | None = None
        self._raw_savepoint: str | None = None
        self._done = False
        if self._write and self._orm:
            self._savepoint = await self._outer.session.begin_nested()
        elif self._write and not self._bare:
            sql = await self._outer.sql()
            self._raw_savepoint = self._outer.open_raw_savepoint()
            await sql.execute(f"SAVEPOINT {self._raw_savepoint}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._done:
            await self.rollback()
        if self._bare and isinstance(exc, IntegrityError):
            raise TransactionLost("a statement failed where no savepoint was taken") from exc

    async def commit(self) -> None:
        if self._savepoint is not None:
            await self._savepoint.commit()
        elif self._raw_savepoint is not None:
            # On PostgreSQL no RELEASE: the savepoint stays open until the enclosing unit commits, which
            # commits what was done in it with the rest. RELEASE would be one more round trip, and on the
            # report path it would fall where the project's audit head is locked and its other writers
            # queue. On SQLite it is a call, not a round trip, and an open savepoint costs there: every page
            # written while one is open is copied to its journal (a temporary file once past 64 KiB).
            if self.dialect == "sqlite":
                await (await self._outer.sql()).execute(f"RELEASE SAVEPOINT {self._raw_savepoint}")
            self._outer.close_raw_savepoint()
        self._done = True

    async def rollback(self) -> None:
        if self._savepoint is not None:
            if self._savepoint.is_active:
                await self._savepoint.rollback()
        elif self._raw_savepoint is not None:
            sql = await self._outer.sql()
            await sql.execute(f"ROLLBACK TO SAVEPOINT {self._raw_savepoint}")
            await sql.execute(f"RELEASE SAVEPOINT {self._raw_savepoint}")
            self._outer.close_raw_savepoint()
        self._done = True
