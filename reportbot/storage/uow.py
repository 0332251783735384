"""The unit of work: one session, one transaction, the repositories that share it.

A unit opened while an *enclosing* one is open on the same database (``Database.enclosing``) joins
it as a savepoint: its ``commit`` releases the savepoint and the enclosing unit commits everything at
once. That is how an incoming message, what its use case records and the answers it is owed become
one transaction, without the use cases knowing.
"""

from __future__ import annotations

from contextvars import ContextVar
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSessionTransaction

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reportbot.storage.reporting import (
    DealRepository,
    LedgerRepository,
    StatsRepository,
    TeamChangeRepository,
)
from reportbot.storage.erasure import ErasureRepository
from reportbot.storage.repositories import (
    CounterRepository,
    DeliveryRepository,
    EventRepository,
    FollowUpRepository,
    ProjectRepository,
    ReminderRepository,
    ReportRepository,
    StaffRepository,
    VisitRepository,
)


class UnitOfWork:
    """``async with`` it, do the work through its repositories, ``await commit()``; else rolled back."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], *, dialect: str) -> None:
        self._factory = factory
        self.dialect = dialect

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._factory()
        self._committed = False
        self.projects = ProjectRepository(self.session)
        self.staff = StaffRepository(self.session)
        self.reports = ReportRepository(self.session, self.dialect)
        self.events = EventRepository(self.session, self.dialect)
        self.counters = CounterRepository(self.session, self.dialect)
        self.visits = VisitRepository(self.session)
        self.follow_ups = FollowUpRepository(self.session)
        self.reminders = ReminderRepository(self.session, self.dialect)
        self.deliveries = DeliveryRepository(self.session, self.dialect)
        self.deals = DealRepository(self.session)
        self.team_changes = TeamChangeRepository(self.session)
        self.stats = StatsRepository(self.session)
        self.ledger = LedgerRepository(self.session)
        self.erasure = ErasureRepository(self.session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True

    async def rollback(self) -> None:
        await self.session.rollback()


# (database identity, unit): the unit that units opened on that database join.
ENCLOSING: ContextVar[tuple[int, UnitOfWork] | None] = ContextVar("reportbot_enclosing_unit", default=None)

_REPOSITORIES = ("projects", "staff", "reports", "events", "counters", "visits", "follow_ups", "reminders",
                 "deliveries", "deals", "team_changes", "stats", "ledger", "erasure")


class JoinedUnit:
    """A unit inside an enclosing one: a savepoint with the enclosing unit's repositories."""

    def __init__(self, outer: UnitOfWork) -> None:
        self._outer = outer
        self.dialect = outer.dialect

    def __getattr__(self, name: str) -> Any:
        if name in _REPOSITORIES or name == "session":
            return getattr(self._outer, name)
        raise AttributeError(name)

    async def __aenter__(self) -> JoinedUnit:
        self._savepoint: AsyncSessionTransaction = await self._outer.session.begin_nested()
        self._done = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._done and self._savepoint.is_active:
            await self._savepoint.rollback()

    async def commit(self) -> None:
        await self._savepoint.commit()
        self._done = True

    async def rollback(self) -> None:
        await self._savepoint.rollback()
        self._done = True
