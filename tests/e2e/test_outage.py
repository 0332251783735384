"""Issue 21: the database goes away under the real `reportbot run`, and nothing is lost, doubled or reordered.

Each test keeps one bot process from start to end (it is never restarted) and takes the database away
in the middle of a burst of reports: a PostgreSQL of the test's own stopped for 10 s (polling, webhook,
and at start-up), or another process holding SQLite's write lock for 40 s. Afterwards every report is
stored once and answered with one receipt, the receipt numbers follow the order the reports were sent,
and a press made during the outage decided its card once. WeCom: tests/e2e/test_outage_wecom.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.e2e.fake_bot_api import FakeBotApi
from tests.e2e.outage import (
    ASSISTANT,
    CANVASSERS,
    GROUP,
    PHONE,
    BotProcess,
    WebhookTelegram,
    assert_in_order,
    bot_env,
    notices,
    receipts,
    register,
    report,
    started,
    stopped,
    stored,
    three_waves,
    until,
)
from tests.fakes.pg_cluster import OwnPostgres, free_port

pytestmark = pytest.mark.e2e
OUTAGE = 10.0  # seconds PostgreSQL is away
PER_WAVE = 6  # reports before, during and after the outage


@pytest.fixture
def pg(own_pg: OwnPostgres) -> OwnPostgres:
    return own_pg


def new_database(pg: OwnPostgres) -> str:
    return pg.create(f"outage_{uuid.uuid4().hex[:8]}")


async def first_card(api: FakeBotApi, bot: BotProcess):  # type: ignore[no-untyped-def]
    await until(lambda: bool(api.messages_to(GROUP)), 30, "the first card in the group", bot)
    return api.messages_to(GROUP)[0]


async def test_polling_through_a_postgresql_restart_loses_nothing_and_keeps_the_order(
    pg: OwnPostgres, tmp_path: Path
) -> None:
    url = new_database(pg)
    await register(url)
    sent: list[str] = []
    async with FakeBotApi() as api:
        bot = BotProcess(bot_env(api, url, tmp_path), tmp_path)
        await bot.start()
        try:
            async def send(n: int) -> None:
                user, name, text, phone = report(n)
                await api.say(user, name, user, text)
                sent.append(phone)

            await send(0)
            card = await first_card(api, bot)

            async def press() -> None:  # a press while the database is away
                await api.press(ASSISTANT[0], ASSISTANT[1], card, "确认")

            await three_waves(send, stopped(pg), started(pg), per_wave=PER_WAVE, outage=OUTAGE, meanwhile=press)
            await until(lambda: len(receipts(api)) >= 3 * PER_WAVE, 120, "every receipt", bot)
            await until(lambda: any("已确认" in (s.text or "") for s in api.messages_to(GROUP, "editMessageText")),
                        30, "the card decided", bot)
            assert bot.alive, "the bot process must live through the outage"
        finally:
            await bot.stop()

    by_phone, deliveries = await stored(url)
    assert sorted(by_phone) == sorted(sent)  # every report stored, once
    assert deliveries == len(sent) + 1  # every message and the press handled once
    got = receipts(api)
    assert all(len(numbers) == 1 for numbers in got.values()), got  # one receipt each
    assert {phone: numbers[0] for phone, numbers in got.items()} == {p: r[-4:] for p, r in by_phone.items()}
    assert_in_order(sent, by_phone)
    decided = [s for s in api.messages_to(GROUP, "editMessageText") if "已确认" in (s.text or "")]
    assert len(decided) == 1
    told = [s for s in api.messages_to(CANVASSERS[0][0]) if "确认" in (s.text or "") and "回执号" not in (s.text or "")]
    assert len(told) == 1, [s.text for s in api.messages_to(CANVASSERS[0][0])]
    log = bot.output()
    assert "数据库暂时不可用" in log and "数据库已恢复" in log
    assert "skipping" not in log and "dead letter" not in log and "Traceback" not in log, log[-3000:]


async def test_the_webhook_holds_an_update_while_postgresql_is_away_and_records_it_when_it_is_back(
    pg: OwnPostgres, tmp_path: Path
) -> None:
    url = new_database(pg)
    await register(url)
    port, secret = free_port(), "outage-test-secret-0123456789"
    sent: list[str] = []
    async with FakeBotApi() as api, WebhookTelegram(f"http://127.0.0.1:{port}/hook", secret) as telegram:
        bot = BotProcess(bot_env(api, url, tmp_path, WEBHOOK_URL="https://bot.example.com/hook",
                                 WEBHOOK_SECRET=secret, WEBHOOK_LISTEN=f"127.0.0.1:{port}"), tmp_path,
                         args=("run", "--webhook"))
        await bot.start()
        try:
            await until(lambda: api.webhook is not None, 30, "the webhook set", bot)

            async def send(n: int) -> None:
                user, name, text, phone = report(n)
                telegram.post(api.message_update(user, name, user, text))
                sent.append(phone)

            await send(0)
            card = await first_card(api, bot)
            health: list[tuple[int, dict]] = []  # type: ignore[type-arg]

            async def press_and_look() -> None:  # a press while the database is away; and the bot's health
                telegram.post(api.press_update(ASSISTANT[0], ASSISTANT[1], card, "确认"))
                await asyncio.sleep(1)
                health.append(await _healthz(port))

            await three_waves(send, stopped(pg), started(pg), per_wave=PER_WAVE, outage=OUTAGE,
                              meanwhile=press_and_look)
            await until(lambda: len(receipts(api)) >= 3 * PER_WAVE and telegram.pending == 0, 120,
                        "every receipt and every update answered 200", bot)
            assert bot.alive
        finally:
            await bot.stop()

    by_phone, deliveries = await stored(url)
    assert sorted(by_phone) == sorted(sent) and deliveries == len(sent) + 1
    got = receipts(api)
    assert all(len(numbers) == 1 for numbers in got.values()), got
    for user, _, _ in CANVASSERS:  # Telegram keeps one chat's updates in order; so does the ledger
        mine = [phone for n, phone in enumerate(sent) if report(n)[0] == user]
        assert_in_order(mine, by_phone)
    # Held while the database was away (up to 50 s, under Telegram's 60), answered 200 once recorded.
    assert all(status == 200 for _, status, _ in telegram.answers), telegram.answers
    assert max(seconds for _, _, seconds in telegram.answers) > OUTAGE / 3
    [(code, body)] = health
    assert code == 503 and body["database"]["reachable"] is False
    assert "139" not in json.dumps(body)  # no personal data in the health answer
    assert len([s for s in api.messages_to(GROUP, "editMessageText") if "已确认" in (s.text or "")]) == 1
    assert "Traceback" not in bot.output()


async def _healthz(port: int) -> tuple[int, dict]:  # type: ignore[type-arg]
    from aiohttp import ClientSession

    async with ClientSession() as session, session.get(f"http://127.0.0.1:{port}/healthz") as answer:
        return answer.status, await answer.json()


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


async def test_sqlite_locked_by_another_process_for_40_s_loses_nothing_and_tells_who_waited(tmp_path: Path) -> None:
    """Past the 30 s busy timeout the bot waits on; people whose reports wait over 30 s are told once."""
    ledger = tmp_path / "ledger.db"
    url = f"sqlite+aiosqlite:///{ledger}"
    await register(url)
    sent: list[str] = []
    async with FakeBotApi() as api:
        bot = BotProcess(bot_env(api, url, tmp_path), tmp_path)
        await bot.start()
        locker = None
        try:
            async def send(n: int) -> None:
                user, name, text, phone = report(n)
                await api.say(user, name, user, text)
                sent.append(phone)

            await send(0)
            await first_card(api, bot)
            locker = await asyncio.create_subprocess_exec(sys.executable, "-c", LOCKER, str(ledger), "40",
                                                          stdout=asyncio.subprocess.PIPE)
            assert locker.stdout is not None and (await locker.stdout.readline()).strip() == b"locked"
            locked_at = time.monotonic()
            for n in range(1, 2 * PER_WAVE):
                await send(n)
                await asyncio.sleep(0.5)
            await asyncio.wait_for(locker.wait(), 60)
            waited = time.monotonic() - locked_at
            for n in range(2 * PER_WAVE, 3 * PER_WAVE):
                await send(n)
            await until(lambda: len(receipts(api)) >= 3 * PER_WAVE, 120, "every receipt", bot)
            assert bot.alive
        finally:
            if locker is not None and locker.returncode is None:
                locker.kill()
                await locker.wait()
            await bot.stop()

    assert waited >= 39
    by_phone, deliveries = await stored(url)
    assert sorted(by_phone) == sorted(sent) and deliveries == len(sent)
    got = receipts(api)
    assert all(len(numbers) == 1 for numbers in got.values()), got
    assert_in_order(sent, by_phone)
    for user, _, _ in CANVASSERS:  # each reported within the lock's first 6 s: waited > 30 s, told once
        mine = api.messages_to(user)
        told = notices(api, user)
        assert len(told) == 1, (user, [m.text for m in mine])
        assert "已收到您的报备" in (told[0].text or "")
        first_receipt_after = next(i for i, m in enumerate(mine) if m.text and "回执号" in m.text and
                                   phone_of(m.text) in sent[1:2 * PER_WAVE])
        assert mine.index(told[0]) < first_receipt_after  # told before the receipt of the report that waited
    log = bot.output()
    assert "database is locked" in log or "数据库暂时不可用" in log
    assert "dead letter" not in log and "Traceback" not in log, log[-3000:]


def phone_of(text: str) -> str:
    found = PHONE.search(text)
    return found[0] if found else ""


async def test_run_waits_for_a_database_that_is_not_up_yet_and_one_shot_commands_say_why_they_cannot(
    pg: OwnPostgres, tmp_path: Path
) -> None:
    """A server that boots the bot before PostgreSQL: `run` says which database and waits; `db upgrade`
    exits non-zero with the same sentence. No traceback, no password."""
    url = new_database(pg).replace("postgres@", "postgres:n0t-a-real-pw@")  # trust auth ignores it
    await register(url)
    await asyncio.to_thread(pg.stop)
    try:
        upgrade = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "reportbot.bot.cli", "db", "upgrade", env=bot_env_for_cli(url, tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path)
        out, err = await upgrade.communicate()
        assert upgrade.returncode != 0
        said = (out + err).decode()
        assert f"无法连接数据库 PostgreSQL 127.0.0.1:{pg.port}" in said and "请检查" in said, said
        assert "Traceback" not in said and "n0t-a-real-pw" not in said

        async with FakeBotApi() as api:
            bot = BotProcess(bot_env(api, url, tmp_path), tmp_path)
            await bot.start()
            try:
                await until(lambda: f"无法连接数据库 PostgreSQL 127.0.0.1:{pg.port}" in bot.output(), 30,
                            "run to say which database it cannot reach", bot)
                await asyncio.sleep(2)
                assert bot.alive  # waiting, not crashed
                await asyncio.to_thread(pg.start)
                user, name, text, _ = report(0)
                await api.say(user, name, user, text)
                await until(lambda: len(receipts(api)) == 1, 90, "the receipt once the database is up", bot)
            finally:
                await bot.stop()
        log = bot.output()
        assert "Traceback" not in log and "n0t-a-real-pw" not in log, log[-3000:]
    finally:
        if not pg.running:
            await asyncio.to_thread(pg.start)


def bot_env_for_cli(url: str, folder: Path) -> dict[str, str]:
    import os

    return {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "", "WECOM_BOT_ID": "",
            "DATA_DIR": str(folder / "data"), "REPORTBOT_POLICY": ""}
