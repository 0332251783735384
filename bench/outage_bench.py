"""Recovery from an outage (issue 21): from the database's return to the first receipt, and to the last.

The real `reportbot run` polls the Bot API fake (tests/e2e/fake_bot_api.py, which hands unconfirmed
updates out again as Telegram does). Its database goes away while reports keep coming: PostgreSQL (a
server of the bench's own) stopped for a few seconds, or SQLite's write lock held by another process
(shorter than the busy timeout: the bot's writer simply waits inside SQLite). When the database returns,
the reports that waited are handled in the order they came; the figures are the time from its return
(``pg_ctl start`` done, or the lock let go) until the first of their receipts reached the fake, and the
last. Telegram's limit of about 30 messages a second per bot applies (the production limiter), and each
report also owes the group a card, so the last receipt cannot come sooner than the limit lets it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import Row, Stat
from tests.e2e.fake_bot_api import FakeBotApi
from tests.e2e.outage import PHONE, BotProcess, bot_env, receipts, register, report, until
from tests.fakes.pg_cluster import OwnPostgres

RUNS = 3
WAITING = 50  # reports that arrive while the database is away
PG_OUTAGE = 5.0  # seconds PostgreSQL is stopped
SQLITE_LOCK = 10.0  # seconds another process holds SQLite's write lock
LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


async def _one_run(url: str, folder: Path, away: object, outage: float) -> tuple[float, float]:
    """(seconds from the return to the first waiting report's receipt, to the last one's)."""
    await register(url)
    async with FakeBotApi() as api:
        bot = BotProcess(bot_env(api, url, folder, LOG_LEVEL="WARNING"), folder)
        await bot.start()
        try:
            user, name, text, _ = report(10_000)
            await api.say(user, name, user, text)
            await until(lambda: len(receipts(api)) == 1, 60, "the bot to answer", bot)
            leave, come_back = away  # type: ignore[misc]
            await leave()
            started = time.monotonic()
            phones = []
            for n in range(WAITING):
                user, name, text, phone = report(n)
                await api.say(user, name, user, text)
                phones.append(phone)
                await asyncio.sleep(1.0 / WAITING)
            await asyncio.sleep(max(0.0, outage - (time.monotonic() - started)))
            await come_back()
            back = time.monotonic()
            await until(lambda: all(p in receipts(api) for p in phones), 120, "every waiting receipt", bot)
            times = [s.at for s in api.sent if s.method == "sendMessage" and s.chat_id > 0 and s.text
                     and (m := PHONE.search(s.text)) and m[0] in phones and "回执号" in s.text]
            return min(times) - back, max(times) - back
        finally:
            await bot.kill()  # a clean stop would wait for the group's queued cards


async def _postgres(pg: OwnPostgres, folder: Path) -> tuple[float, float]:
    url = pg.create(f"bench_outage_{uuid.uuid4().hex[:8]}")

    async def leave() -> None:
        await asyncio.to_thread(pg.stop)

    async def come_back() -> None:
        await asyncio.to_thread(pg.start)

    return await _one_run(url, folder, (leave, come_back), PG_OUTAGE)


async def _sqlite(folder: Path) -> tuple[float, float]:
    ledger = folder / "ledger.db"
    locker: list[asyncio.subprocess.Process] = []

    async def leave() -> None:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", LOCKER, str(ledger),
                                                       stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert process.stdout is not None
        await process.stdout.readline()
        locker.append(process)

    async def come_back() -> None:
        process = locker[0]
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
        await process.wait()

    return await _one_run(f"sqlite+aiosqlite:///{ledger}", folder, (leave, come_back), SQLITE_LOCK)


def _rows(kind: str, away: str, runs: list[tuple[float, float]]) -> list[Row]:
    first = Stat.of([f * 1000 for f, _ in runs])
    last = Stat.of([last for _, last in runs])
    note = f"{WAITING} reports arrived while {away}; {RUNS} runs; the real `reportbot run`, production limiter"
    return [
        Row("outage", f"database back → first waiting receipt — {kind}", first, "ms", note=note,
            higher_is_better=False),
        Row("outage", f"database back → last of {WAITING} waiting receipts — {kind}", last, "s",
            note=note + "; each report also owes the group a card (≈30 messages/s per bot in all)",
            higher_is_better=False),
    ]


async def run(long: bool) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="outage-bench-") as tmp:
        root = Path(tmp)
        with OwnPostgres() as pg:
            runs = []
            for i in range(RUNS):
                folder = root / f"pg{i}"
                folder.mkdir()
                runs.append(await _postgres(pg, folder))
            rows += _rows("PostgreSQL, polling", f"PostgreSQL was stopped ({PG_OUTAGE:.0f} s)", runs)
        runs = []
        for i in range(RUNS):
            folder = root / f"sqlite{i}"
            folder.mkdir()
            runs.append(await _sqlite(folder))
        rows += _rows("SQLite, polling", f"another process held the write lock ({SQLITE_LOCK:.0f} s)", runs)
    return rows
