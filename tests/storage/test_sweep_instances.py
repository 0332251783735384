"""Two bot instances sweeping one database at the same moment send each reminder once."""

from __future__ import annotations

import asyncio

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Send
from reportbot.handlers.sweep import sweep
from reportbot.storage.db import Database
from tests.conftest import local
from tests.office import LI, Chat, open_office, report_text


async def test_two_instances_sweeping_together_send_every_reminder_exactly_once(svc: Services, db_url: str) -> None:
    await open_office(svc)
    chat = Chat(svc)
    for n in range(40):
        await chat.say(LI, report_text(customer="张先生", phone=f"138***{n:05d}"))
    other = Services(db=Database(db_url), render=svc.render, policy=svc.policy)
    try:
        at = local("2026-11-24 14:00")  # each report has an appointment-day and an appointment-soon reminder due
        first, second = await asyncio.gather(sweep(svc, at, "console"), sweep(other, at, "console"))
    finally:
        await other.db.dispose()
    sent_texts = [a.text for a in first + second if isinstance(a, Send) and a.chat_id == LI]
    assert len(sent_texts) == 80
    assert len(set(sent_texts)) == 80
    async with svc.db.uow(write=False) as uow:
        assert await uow.reminders.unsent() > 0  # the expiry warnings are still ahead
