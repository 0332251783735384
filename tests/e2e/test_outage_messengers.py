"""DingTalk and Feishu through a PostgreSQL outage: its own cluster stopped for 10 s in the middle of a burst
under the real `reportbot run`. Every callback is acknowledged once it is spooled (never before), handled
when the database is back, in the order the messenger delivered them; every report is stored once with one
receipt, the card pressed during the outage is decided once and updated in place, the process lives on."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from tests.e2e.outage import RECEIPT, BotProcess, quiet_policy, started, stopped, stored, three_waves, until
from tests.e2e.test_messengers import DINGTALK, FEISHU, Fake, Messenger, messenger_keys
from tests.fakes.pg_cluster import OwnPostgres
from tests.office import customer

pytestmark = pytest.mark.e2e
PER_WAVE = 5
OUTAGE = 10.0


def people(m: Messenger) -> list[tuple[str, str, str]]:
    return [(m.li, "李四", "甲队"), (m.wang, "王五", "乙队")]


def report(m: Messenger, n: int) -> tuple[str, str, str]:
    user, name, team = people(m)[n % 2]
    phone = f"137***{60000 + n:05d}"
    return user, f"报备\n客户：{customer(n)}\n电话：{phone}\n队名：{team}\n拓客：{name}\n到访：明天下午3点", phone


async def register(m: Messenger, url: str) -> None:
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    now = datetime.now(UTC)
    await directory.add_project(db, "江湾壹号", None, None, now, **{f"{m.name}_chat_id": m.group})
    key = f"{m.name}_id"
    await directory.add_staff(db, NewStaff("孙助理", "案场", "assistant", project="江湾壹号", **{key: m.zhao}), now)
    for user, name, team in people(m):
        await directory.add_staff(db, NewStaff(name, team, "canvasser", project="江湾壹号", **{key: user}), now)
    await db.dispose()


def receipts(m: Messenger, fake: Fake) -> dict[str, list[str]]:
    """masked phone → receipt numbers that reached canvassers."""
    found: dict[str, list[str]] = {}
    for user, _, _ in people(m):
        for text in fake.texts_to(user):
            if match := RECEIPT.search(text):
                found.setdefault(text.split("电话：")[1][:11], []).append(match[1])
    return found


@pytest.mark.parametrize("m", [DINGTALK, FEISHU], ids=lambda m: m.name)
async def test_a_postgresql_outage_mid_burst_loses_nothing_and_acks_only_what_is_spooled(
    m: Messenger, tmp_path: Path
) -> None:
    with OwnPostgres() as pg:
        url = pg.create(f"{m.name}_{uuid.uuid4().hex[:8]}")
        await register(m, url)
        sent: list[str] = []
        async with m.make() as fake:
            env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "", **messenger_keys(fake),
                   "DATA_DIR": str(tmp_path / "data"), "REPORTBOT_POLICY": str(quiet_policy(tmp_path)),
                   "LOG_LEVEL": "INFO"}
            bot = BotProcess(env, tmp_path)
            await bot.start()
            try:
                await fake.wait_connected()

                async def send(n: int) -> None:
                    user, text, phone = report(m, n)
                    await fake.say(user, text)
                    sent.append(phone)

                await send(0)
                await fake.wait(lambda: bool(fake.cards(m.group)), what="the first card")
                card = fake.cards(m.group)[0]

                async def press() -> None:
                    await fake.press(m.zhao, card, "确认")

                await three_waves(send, stopped(pg), started(pg), per_wave=PER_WAVE, outage=OUTAGE, meanwhile=press)
                await until(lambda: len(receipts(m, fake)) >= 3 * PER_WAVE, 120, "every receipt", bot)
                await until(lambda: bool(fake.updates(card.card_id)), 60, "the card decided", bot)
                assert bot.alive, "the bot process must live through the outage"
                assert fake.unacked() == [], "every callback is acknowledged once spooled"
            finally:
                await bot.stop()

        by_phone, deliveries = await stored(url)

    assert sorted(by_phone) == sorted(sent) and deliveries == len(sent) + 1
    got = receipts(m, fake)
    assert all(len(numbers) == 1 for numbers in got.values()), got  # one receipt each
    numbers = [by_phone[phone] for phone in sent]
    assert numbers == sorted(numbers)  # first come, first served, in the messenger's order, across the outage
    assert ["已确认" in u.text for u in fake.updates(card.card_id)] == [True]  # decided once, in place
    spools = list((tmp_path / "data").glob(f"inbox-{m.name}-*.spool"))
    assert spools and all(p.read_text() == "" for p in spools)  # every spooled callback handled
    log = bot.output()
    assert "数据库暂时不可用" in log and "数据库已恢复" in log
    assert "Traceback" not in log and "dead letter" not in log, log[-4000:]
    assert fake.refused == 0
