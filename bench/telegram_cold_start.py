"""Telegram cold start: `reportbot run` from spawn to its answer to /start, and its peak RSS then.

Beside the floor of a fresh process that only imports the stack and builds a PTB Application; the two
are run in turn, so that both see the same machine.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, Row, Stat, stop
from bench.telegram_bot import POLL_INTERVAL, bot_on_emulator
from bench.telegram_office import Databases, Office, People
from tests.e2e.emulator import Emulator

REPORTBOT = ROOT / ".venv" / "bin" / "reportbot"
STACK_FLOOR = """
import resource, sys
import telegram.ext, sqlmodel, sqlalchemy.ext.asyncio, aiosqlite, jinja2, apscheduler
from telegram.ext import AIORateLimiter, ApplicationBuilder
ApplicationBuilder().token("1:x").rate_limiter(AIORateLimiter()).build()
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


async def stack_floor() -> tuple[float, float]:
    """Seconds from spawn to exit of a process that imports the stack and builds an Application; its peak RSS (MiB)."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STACK_FLOOR, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return time.perf_counter() - start, int(out) / 1024


@dataclass(frozen=True)
class ColdStart:
    seconds: float
    rss_mib: float
    exit_code: int | None


async def cold_start_run(databases: Databases, log: Path) -> ColdStart:
    """`reportbot run` on a copy of a migrated, registered database; /start is waiting before the spawn."""
    db_url, person = await databases.fresh(), databases.office.people[0]

    def command(emulator: Emulator, token: str) -> tuple[list[str], dict[str, str]]:
        env = {
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_BASE_URL": emulator.base_url,
            "TELEGRAM_POLL_INTERVAL": str(POLL_INTERVAL),
            "DATABASE_URL": db_url,
        }
        return [str(REPORTBOT), "run"], env

    async def say_start(people: People) -> None:
        await people.say(person.user_id, person.user_id, "/start")

    async with bot_on_emulator(command, log, before_spawn=say_start, ready=False) as session:
        answer = await session.people.wait([person.user_id], 1, timeout=60, every=0.01)
        rss, spawned = session.peak_rss_mib(), session.spawned
        code = await stop(session.process)
    arrived = answer.all([person.user_id])
    if not arrived:
        raise RuntimeError(f"reportbot run never answered /start:\n{log.read_text()[-3000:]}")
    return ColdStart(arrived[0][0] - spawned, rss, code)


async def cold_start_rows(root: Path) -> list[Row]:
    """Cold start to the first answer and peak RSS, beside the bare stack in a fresh process."""
    repetitions = 5
    databases, log = Databases(Office.of(projects=1, canvassers=1), root / "cold"), root / "cold" / "bots.log"
    log.parent.mkdir()
    floors, runs = [], []
    for _ in range(repetitions):  # interleaved, so that both see the same machine
        floors.append(await stack_floor())
        runs.append(await cold_start_run(databases, log))
    exits = sorted({str(r.exit_code) for r in runs})
    note = (
        f"fresh copy of a migrated DB with 1 project + 1 canvasser registered by reportbot.handlers.directory "
        f"(start-up upgrade finds it at head); /start queued before the spawn; SIGINT exit codes: {', '.join(exits)}"
    )
    section = "telegram cold start"
    return [
        Row(
            section,
            "`reportbot run`: spawn → answer to /start at the emulator",
            Stat.of([r.seconds * 1000 for r in runs]),
            "ms",
            "import stack + build Application, fresh process",
            Stat.of([s * 1000 for s, _ in floors]),
            "< 1,500 ms",
            note,
            higher_is_better=False,
        ),
        Row(
            section,
            "peak RSS (VmHWM) of the bot after its first answer",
            Stat.of([r.rss_mib for r in runs]),
            "MiB",
            "same floor process",
            Stat.of([m for _, m in floors]),
            "",
            "",
            higher_is_better=False,
        ),
    ]
