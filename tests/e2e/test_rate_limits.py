"""Under Telegram's group limit the group cards queue, and every private receipt still comes at once."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram.ext import AIORateLimiter

from reportbot.bot.lines import Gathering
from reportbot.bot.telegram import TelegramTransport
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.messages import Send
from reportbot.handlers.render import Renderer
from reportbot.rules.model import Status
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import SystemClock
from reportbot.storage.db import Database
from tests.e2e.emulator import (
    Emulator,
    TgUser,
    bot_message,
    bot_messages,
    buttons,
    new_token,
    running_application,
    wait_for_bot_messages,
)

pytestmark = [pytest.mark.e2e]

GROUP = -1001234567890
RECEIPT = re.compile(r"BB-\d{8}-\d{4}")
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


async def test_a_group_behind_its_limit_gets_gathered_cards_and_every_report_is_decided_on_its_card(
    sqlite_url: str,
) -> None:
    """Issue 24 through the real bot and the emulator: 12 reports at once into a group that lets 2 messages out
    every 3 s (the limiter's own wait, as Telegram's 20 a minute): receipts at once; the cards that wait are
    gathered, each report on exactly one card, in report order; an assistant decides them all there."""
    async with limited_bot(sqlite_url, AIORateLimiter(group_max_rate=2, group_time_period=3, max_retries=3)) as bot:
        bot.transport.outbox.gathering = Gathering.behind_limit(2, 3.0, most=20)  # behind: more than 6 waiting
        now = SystemClock().now()
        people = [TgUser(bot.emulator, bot.token, uid, f"队员{chr(0x4E00 + uid)}") for uid in range(201, 207)]
        for person in people:
            entry = NewStaff(person.first_name, "飞虎队", "canvasser", str(person.user_id), project="森林半岛")
            await directory.add_staff(bot.services.db, entry, now)
        await directory.add_staff(bot.services.db, NewStaff("赵敏", "案场", "assistant", "301", project="森林半岛"), now)
        assistant = TgUser(bot.emulator, bot.token, 301, "赵敏")
        for n in range(2):
            for person in people:
                await person.say(person.user_id, f"报备 客户：客户{chr(0x4E00 + person.user_id * 2 + n)} 电话：138***{person.user_id}{n:02d} "
                                                 f"队名：飞虎队 拓客：{person.first_name} 到访：明天下午3点")
        for person in people:
            receipts = await wait_for_bot_messages(bot.emulator, bot.token, person.user_id, count=2, timeout=GENEROUS)
            assert all("回执号" in r["text"] for r in receipts)

        async def group_messages() -> list[dict]:  # as they stand now (edits applied), oldest first
            return sorted(await bot_messages(bot.emulator, bot.token, GROUP), key=lambda m: m["message_id"])

        deadline = time.monotonic() + 60
        while len({n for m in await group_messages() for n in RECEIPT.findall(m["text"])}) < 12:
            assert time.monotonic() < deadline, [m["text"] for m in await group_messages()]
            await asyncio.sleep(0.2)
        cards = await group_messages()
        on_cards = [n for m in cards for n in RECEIPT.findall(m["text"])]
        assert on_cards == sorted(on_cards) and len(on_cards) == 12  # each on one card, in report order
        assert len(cards) <= 4, [m["text"] for m in cards]  # a card or two while the line was short, then one
        gathered = next(m for m in cards if "全部确认" in [label for label, _ in buttons(m)])
        singles = [m for m in cards if m is not gathered]
        count = len(RECEIPT.findall(gathered["text"]))
        assert f"📋 新报备 {count} 组" in gathered["text"] and count >= 8

        async def pressed(message: dict, label: str, shows: str, *, until_none: str = "\0") -> dict:
            """Press ``label`` and wait for the card's edit (it waits its turn in the group's line): until the
            card shows ``shows`` and no longer ``until_none``."""
            await assistant.click(message, label)
            deadline = time.monotonic() + GENEROUS * 2
            while True:
                current = await bot_message(bot.emulator, bot.token, GROUP, message["message_id"]) or {}
                if shows in current.get("text", "") and until_none not in current.get("text", ""):
                    return current
                assert time.monotonic() < deadline, (shows, current)
                await asyncio.sleep(0.1)

        menu = await pressed(gathered, "1 驳回", "请选择第 1 组")
        after = await pressed(menu, "重复", "❌ 已驳回（重复）— 赵敏")
        await pressed(after, "2 确认", "✅ 已确认 — 赵敏")
        done = await pressed(await bot_message(bot.emulator, bot.token, GROUP, gathered["message_id"]) or {},
                             "全部确认", "✅ 已确认", until_none="待确认")
        assert buttons(await bot_message(bot.emulator, bot.token, GROUP, done["message_id"]) or {}) == []
        for single in singles:
            await pressed(single, "确认", "✅ 已确认 — 赵敏")
        async with bot.services.db.uow(write=False) as uow:
            reports = await uow.reports.get_many(list(range(1, 13)))
        assert Counter(r.status for r in reports) == Counter({Status.CONFIRMED: 11, Status.REJECTED: 1})
        for person in people:  # each canvasser told of each of their two reports, once
            told = await wait_for_bot_messages(bot.emulator, bot.token, person.user_id, count=2, timeout=GENEROUS,
                                               predicate=lambda m: "赵敏" in m["text"])
            assert len({t["text"] for t in told}) == 2
        await bot.transport.outbox.close()
