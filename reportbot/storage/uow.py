"""The unit of work: one session, one transaction, the repositories that share it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from reportbot.storage.erasure import ErasureRepository
from reportbot.storage.repositories import (
    CounterRepository,
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
