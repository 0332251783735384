"""Under Telegram's group limit the group cards queue, and every private receipt still comes at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram.ext import AIORateLimiter

from reportbot.bot.telegram import TelegramTransport
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.messages import Send
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import SystemClock
from reportbot.storage.db import Database
from tests.e2e.emulator import Emulator, TgUser, new_token, running_application, wait_for_bot_messages

pytestmark = [pytest.mark.e2e]

GROUP = -1001234567890
GENEROUS = 10.0  # seconds: far above a private chat's own limiter wait (30 messages/s for the whole bot)


@dataclass
class LimitedBot:
    emulator: Emulator
    token: str
    transport: TelegramTransport
    services: Services


@asynccontextmanager
async def limited_bot(sqlite_url: str, limiter: AIORateLimiter) -> AsyncIterator[LimitedBot]:
    """The real bot on the emulator behind the given limiter, with a project and its group."""
    policy = Policy()
    services = Services(db=Database(sqlite_url), render=Renderer(policy.timezone), policy=policy)
    await directory.add_project(services.db, "森林半岛", str(GROUP), None, SystemClock().now())
    try:
        with Emulator() as emulator:
            token = new_token()
            transport = TelegramTransport(services, SystemClock(), Path(sqlite_url.split("///", 1)[1] + ".journal"))
            application = emulator.application_builder(token).rate_limiter(limiter).build()
            transport.install(application)
            async with running_application(application):
                yield LimitedBot(emulator, token, transport, services)
    finally:
        await services.db.dispose()


async def test_a_rate_limited_group_does_not_delay_private_receipts(sqlite_url: str) -> None:
    # The production limiter, with the group allowance cut to one message a minute so that the
    # second and third cards must wait about a minute behind the first.
    async with limited_bot(sqlite_url, AIORateLimiter(group_max_rate=1, group_time_period=60, max_retries=3)) as bot:
        names = ["李四", "王五", "赵六"]
        now = SystemClock().now()
        for uid, name in enumerate(names, start=201):
            entry = NewStaff(name, "飞虎队", "canvasser", str(uid), project="森林半岛")
            await directory.add_staff(bot.services.db, entry, now)
        started = time.monotonic()
        for uid, name in enumerate(names, start=201):
            user = TgUser(bot.emulator, bot.token, uid, name)
            await user.say(uid, f"报备 客户：张先生 电话：138***{uid:05d} 队名：飞虎队 拓客：{name} 到访：明天下午3点")
        for uid in range(201, 204):
            receipt = (await wait_for_bot_messages(bot.emulator, bot.token, uid, timeout=GENEROUS))[0]
            assert "回执号" in receipt["text"]
        receipts_done = time.monotonic() - started
        cards = await wait_for_bot_messages(bot.emulator, bot.token, GROUP, count=1, timeout=GENEROUS)
        assert len(cards) == 1  # the other two are queued behind the group limit, not lost
        assert receipts_done < GENEROUS
        await bot.transport.outbox.close(timeout=0)  # the queued cards would take two more minutes


async def test_a_burst_of_500_reminders_to_one_group_is_queued_and_all_delivered(sqlite_url: str) -> None:
    # A group allowance of 100 a second stands in for Telegram's 20 a minute, so that the queue
    # forms and drains within the test; the mechanism is the same limiter and the same outbox.
    async with limited_bot(sqlite_url, AIORateLimiter(group_max_rate=100, group_time_period=1, max_retries=3)) as bot:
        bot.transport.dispatch([Send(str(GROUP), f"提醒 {n:03d}") for n in range(500)])
        arrived = await wait_for_bot_messages(bot.emulator, bot.token, GROUP, count=500, timeout=120)
        assert [m["text"] for m in arrived] == [f"提醒 {n:03d}" for n in range(500)]
        await bot.transport.outbox.close()
