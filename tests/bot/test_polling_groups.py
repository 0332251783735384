"""The polling loop's groups with the real transport and database: a failure inside a group costs
nothing twice — every report recorded once and answered once, in order (bot/polling.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import ApplicationBuilder

from reportbot.bot import polling
from reportbot.bot import telegram as telegram_transport
from reportbot.bot.telegram import TelegramTransport
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action, Send
from reportbot.scheduler.clock import SystemClock
from reportbot.storage.tables import ReportRow
from reportbot.storage.transport_tables import DeliveryRow, OutboxRow
from tests.office import LI, WANG, open_office, report_text


def private_text(update_id: int, user: str, text: str) -> dict[str, Any]:
    person = {"id": int(user), "is_bot": False, "first_name": user}
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 1_800_000_000, "chat": {"id": int(user), "type": "private"},
        "from": person, "text": text}}


@dataclass
class Bot:
    """getUpdates as Telegram answers it: everything from ``offset`` on."""

    bot: Any
    updates: list[dict[str, Any]]
    stop: asyncio.Event
    offsets: list[int] = field(default_factory=list)

    async def get_updates(self, offset: int, timeout: int, allowed_updates: list[str]) -> list[Update]:
        self.offsets.append(offset)
        pending = [u for u in self.updates if u["update_id"] >= offset]
        if not pending:
            self.stop.set()
        return [Update.de_json(u, self.bot) for u in pending]  # type: ignore[misc]


async def count(svc: Services, table: type) -> int:
    async with svc.db.uow(write=False) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_group_with_a_failing_update_is_handled_again_one_by_one_and_nothing_doubles(
    svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reportbot.bot.polling")
    await open_office(svc)
    transport = TelegramTransport(svc, SystemClock(), tmp_path / "journal")
    application = ApplicationBuilder().token("1:x").base_url("http://127.0.0.1:9/bot").build()
    transport.install(application)
    monkeypatch.setattr(application, "_initialized", True)  # initialize() would ask Telegram getMe
    sent: list[Action] = []

    async def record(action: Action) -> None:
        sent.append(action)

    monkeypatch.setattr(transport, "_send_once", record)
    real = telegram_transport.handle_message
    failures = {"王五": 1}  # the database "goes away" once while 王五's report is handled

    async def flaky(msg: Any, services: Services) -> list[Action]:
        answers = await real(msg, services)  # its report is written …
        for name, left in failures.items():
            if left and name in msg.text:
                failures[name] -= 1
                raise ConnectionError("the database went away")  # … and then rolled back
        return answers

    monkeypatch.setattr(telegram_transport, "handle_message", flaky)
    monkeypatch.setattr(polling, "_pause", _no_pause)
    monkeypatch.setattr(polling, "GROUP_SECONDS", 60.0)  # one group of all three, however slow the machine
    texts = [
        (LI, report_text(customer="甲先生", phone="138***00001")),
        (WANG, report_text(customer="乙女士", phone="138***00002", team="猛虎队", who="王五")),
        (LI, report_text(customer="丙先生", phone="138***00003")),
    ]
    stop = asyncio.Event()
    bot = Bot(application.bot, [private_text(i + 1, user, text) for i, (user, text) in enumerate(texts)], stop)

    @dataclass
    class App:
        bot: Bot

    await asyncio.wait_for(
        polling.poll(App(bot), stop, transport.handle, transport, interval=0, allowed_updates=(),
                     batch=lambda: telegram_transport.delivery.batch(svc.db)), 30)
    await transport.outbox.drain()
    assert failures == {"王五": 0} and "a group of 3 failed; handling them one by one" in caplog.text
    assert await count(svc, ReportRow) == 3 and await count(svc, DeliveryRow) == 3
    receipts = [a.text for a in sent if isinstance(a, Send) and "回执号" in a.text and a.chat_id in (LI, WANG)]
    assert len(receipts) == 3 and len(set(receipts)) == 3, receipts
    assert [r.split("客户：")[1][:3] for r in receipts if "甲" in r or "丙" in r] == ["甲先生", "丙先生"]
    assert await count(svc, OutboxRow) == len([a for a in sent if isinstance(a, Send)])
    assert bot.offsets[-1] == 4
    await transport.outbox.close()
    transport.journal.close()


async def _no_pause(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(0)
