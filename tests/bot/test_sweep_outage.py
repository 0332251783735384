"""The sweep across an outage (issue 21): nothing is claimed unless its message is stored with it, so a
sweep the database walked out of counts for nothing, and the next one sends each reminder once."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select

from reportbot.handlers.context import Services
from reportbot.handlers.delivery import Queued
from reportbot.handlers.messages import Action, Send
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import ManualClock
from reportbot.scheduler.sweeper import Sweeper
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from reportbot.storage.tables import ReminderRow
from reportbot.storage.transport_tables import OutboxRow
from tests.conftest import local
from tests.fakes.pg_cluster import OwnPostgres
from tests.office import LI, Chat, open_office, report_text


async def test_reminders_due_while_postgresql_is_away_are_sent_once_when_it_is_back(own_pg: OwnPostgres) -> None:
    url = own_pg.create(f"sweep_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    policy = Policy()
    svc = Services(db=Database(url), render=Renderer(policy.timezone), policy=policy)
    try:
        await open_office(svc)
        await Chat(svc).say(LI, report_text())  # 2026-11-23 10:00; appointment tomorrow 15:00
        delivered: list[Action] = []

        def deliver(queued: list[Queued]) -> None:
            delivered.extend(q.action for q in queued)

        sweeper = Sweeper(svc, ManualClock(local("2026-11-24 14:00")), "console", deliver)  # two reminders due
        await asyncio.to_thread(own_pg.stop)
        try:
            await sweeper.run_once()  # meets the outage: nothing claimed, nothing sent, nothing raised
            assert delivered == [] and svc.db.watch.is_down
        finally:
            await asyncio.to_thread(own_pg.start)
        assert await svc.db.watch.wait_until_up(timeout=30)
        await sweeper.run_once()
        await sweeper.run_once()  # and once more: nothing twice
        to_li = [a for a in delivered if isinstance(a, Send) and a.chat_id == LI]
        assert len(to_li) == 2, to_li  # the appointment-day and the two-hours-before reminders, once each
        async with svc.db.uow(write=False) as uow:
            outbox = (await uow.session.execute(select(func.count()).select_from(OutboxRow))).scalar_one()
            claimed = (await uow.session.execute(select(func.count()).select_from(ReminderRow)
                                                 .where(ReminderRow.sent_at.is_not(None)))).scalar_one()  # type: ignore[union-attr]
        assert outbox == len(delivered) and len(set(delivered)) == len(delivered)  # each message stored once
        assert claimed >= len(delivered)  # (a reminder whose subject moved on is claimed and dropped)
    finally:
        await svc.db.dispose()
