"""The sweeper of a running bot: it sweeps at start (what fell due while down), then on its interval."""

from __future__ import annotations

from reportbot.handlers.context import Services
from reportbot.handlers.delivery import Queued
from reportbot.handlers.messages import Action, Send
from reportbot.scheduler.clock import ManualClock
from reportbot.scheduler.sweeper import JOB_ID, Sweeper
from tests.conftest import local
from tests.office import LI, Chat, open_office, report_text


async def test_a_restarted_bot_sends_what_fell_due_while_it_was_down_once(svc: Services) -> None:
    await open_office(svc)
    await Chat(svc).say(LI, report_text())  # 2026-11-23 10:00; appointment tomorrow 15:00
    delivered: list[Action] = []

    def deliver(queued: list[Queued]) -> None:
        delivered.extend(q.action for q in queued)

    clock = ManualClock(local("2026-11-24 14:00"))  # the bot was down all morning
    first = Sweeper(svc, clock, "console", deliver)
    await first.start()
    try:
        assert first.scheduler.get_job(JOB_ID) is not None
        to_li = [a for a in delivered if isinstance(a, Send) and a.chat_id == LI]
        assert len(to_li) == 2  # the appointment-day and the two-hours-before reminders
        second = Sweeper(svc, clock, "console", deliver)  # a second start, or a second instance
        await second.run_once()
        assert len([a for a in delivered if isinstance(a, Send) and a.chat_id == LI]) == 2
    finally:
        first.stop()
