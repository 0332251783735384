"""The office end-to-end tests run against: the real bot on telegram-test-api, four staff and a group."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from reportbot.bot.settings import Settings
from reportbot.bot.telegram import TelegramTransport
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import ManualClock, SystemClock
from reportbot.storage.db import Database
from tests.e2e.emulator import (
    POLL_INTERVAL,
    Emulator,
    TgUser,
    bot_message,
    new_token,
    wait_for_bot_messages,
)

WAIT = 30.0
GROUP = -1001234567890
REPORT = "报备\n客户：{customer}\n电话：{phone}\n队名：{team}\n拓客：{name}\n到访：明天下午3点"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@dataclass
class Office:
    emulator: Emulator
    token: str
    transport: TelegramTransport
    clock: ManualClock
    li: TgUser  # canvasser, 飞虎队
    wang: TgUser  # canvasser, 猛虎队
    zhao: TgUser  # assistant
    chen: TgUser  # manager
    stranger: TgUser

    async def next_in(self, chat_id: int, count: int = 1) -> list[dict]:
        return await wait_for_bot_messages(self.emulator, self.token, chat_id, count=count, timeout=WAIT)

    async def card(self, message_id: int, showing: str | None = None) -> dict:
        """The group card as it stands, waiting (for an edit) until its text shows ``showing``."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            current = await bot_message(self.emulator, self.token, GROUP, message_id)
            assert current is not None
            if showing is None or showing in current["text"]:
                return current
            assert asyncio.get_running_loop().time() < deadline, f"card never showed {showing!r}: {current}"
            await asyncio.sleep(0.05)


def morning_clock(policy: Policy) -> ManualClock:
    """Today at 10:00 in the office's zone, moving only when told. At the real time of day a bot's first
    sweep sends the evening digest into the group after 21:00 (and holds reminders in quiet hours),
    ahead of the answer a test waits for there."""
    today = SystemClock().now().astimezone(ZoneInfo(policy.timezone))
    return ManualClock(today.replace(hour=10, minute=0, second=0, microsecond=0))


@pytest.fixture
async def office(emulator: Emulator, sqlite_url: str) -> AsyncIterator[Office]:
    """The bot polling the emulator, on a clock that starts today at 10:00 and moves only when told."""
    policy = Policy()
    services = Services(db=Database(sqlite_url), render=Renderer(policy.timezone), policy=policy)
    clock = morning_clock(policy)
    await directory.add_project(services.db, "森林半岛", str(GROUP), None, clock.now())
    for entry in (
        NewStaff("李四", "飞虎队", "canvasser", "101", project="森林半岛"),
        NewStaff("赵敏", "案场", "assistant", "102", project="森林半岛"),
        NewStaff("王五", "猛虎队", "canvasser", "103", project="森林半岛"),
        NewStaff("陈经理", "案场", "manager", "104", project="森林半岛"),
    ):
        await directory.add_staff(services.db, entry, clock.now())
    token = new_token()
    transport = TelegramTransport(services, clock, Path(sqlite_url.split("///", 1)[1] + ".journal"))
    settings = Settings(telegram_bot_token=token, telegram_base_url=emulator.base_url,
                        telegram_poll_interval=POLL_INTERVAL)
    application = transport.build(settings)
    people = [TgUser(emulator, token, uid, name) for uid, name in
              ((101, "李四"), (103, "王五"), (102, "赵敏"), (104, "陈经理"), (999, "路人"))]
    # As `reportbot run` runs it: the project's own polling loop (the emulator refuses setMyCommands:
    # start-up goes on without the menu).
    stop = asyncio.Event()
    serving = asyncio.create_task(transport.serve(application, settings, stop=stop))
    await asyncio.wait_for(transport.started.wait(), 30)
    yield Office(emulator, token, transport, clock, *people)
    await transport.outbox.drain()
    stop.set()
    await asyncio.wait_for(serving, 30)
