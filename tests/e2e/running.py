"""`reportbot run` as a child process against local fakes, and a ledger registered through the real CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from tests.bot.test_cli import reportbot


def register(db: Path, steps: list[tuple[str, ...]]) -> Path:
    for step in steps:
        done = reportbot(*step, db=db)
        assert done.returncode == 0, done.stderr
    return db


class RunningBot:
    """`reportbot run` with ``keys`` (the channels' environment) on the SQLite ledger ``db``."""

    def __init__(self, keys: dict[str, str], db: Path, folder: Path) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "TELEGRAM_BOT_TOKEN": "",
            "REPORTBOT_POLICY": "",
            **keys,
        }
        self.db = db
        self.folder = folder
        self.logs: list[Path] = []
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.folder / f"bot{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "reportbot.bot.cli", "run", env=self.env, cwd=self.folder,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops it; it shuts down by itself."""
        bot = self.process
        if bot is None or bot.returncode is not None:
            return
        bot.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(bot.wait(), 60)
        except TimeoutError:
            bot.kill()
            await bot.wait()
            raise AssertionError("reportbot run did not stop on SIGTERM") from None

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    def output(self) -> str:
        return "".join(log.read_text("utf-8", "replace") for log in self.logs)

    def count(self, sql: str) -> int:
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute(sql).fetchone()[0])

    async def until(self, sql: str, count: int, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.count(sql) < count:
            assert loop.time() < deadline, f"never {count} of: {sql}"
            await asyncio.sleep(0.05)
