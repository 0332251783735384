"""A bot process on a fresh telegram-test-api emulator, for the Telegram benches.

Every bot runs in its own process (``python -m bench.telegram_bot serve SPEC``), so that the simulated
people (the bench's process, talking to the emulator's client API) take no CPU from the bot under test:
our bot as `reportbot run` serves it (TelegramTransport.serve, its own polling loop), or a PTB echo bot as
the framework's ceiling. The process says READY once it serves, stops on SIGINT, and stops by itself
when the bench's process goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, peak_rss_mib, process_cpu_seconds, stop
from bench.telegram_office import People
from reportbot.storage.db import Database
from tests.e2e.emulator import Emulator, new_token

POLL_INTERVAL = 0.05  # the bot's getUpdates interval (the emulator has no long polling)
UNLIMITED = "AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)"


@dataclass(frozen=True)
class BotSpec:
    """What the bot process runs: our bot or a PTB echo bot (updates in sequence or, for the echo bot,
    concurrently: our bot handles them in order in its own polling loop and sends concurrently, per chat)."""

    kind: str  # "reportbot" | "echo"
    concurrent: bool = False
    production_limiter: bool = False  # True: exactly transport.build(settings); else UNLIMITED
    http: str = "httpx"  # the echo bot's Bot API client: PTB's own (httpx), or ours (bot/bot_api_http.py, aiohttp)
    token: str = ""
    base_url: str = ""
    db_url: str = ""


def _builder(spec: BotSpec) -> Any:
    """An ApplicationBuilder as transport.build makes it, with both rate limits off and the chosen concurrency."""
    from telegram.ext import AIORateLimiter, ApplicationBuilder

    builder = (
        ApplicationBuilder()
        .token(spec.token)
        .base_url(spec.base_url)
        .base_file_url(spec.base_url.removesuffix("/bot") + "/file/bot")
        .rate_limiter(AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3))
        .concurrent_updates(spec.concurrent)
    )
    if spec.http == "aiohttp":  # as TelegramTransport.build
        from reportbot.bot.telegram import with_bot_api_client

        builder = with_bot_api_client(builder)
    return builder


def _reportbot_application(spec: BotSpec) -> tuple[Any, Any, Any]:
    """Our bot on the spec's database as `reportbot run` builds it: (application, transport, settings).

    transport.build(settings), with both rate limits off (as for the echo bot) unless ``production_limiter``."""
    from reportbot.bot.settings import Settings
    from reportbot.bot.telegram import TelegramTransport
    from reportbot.handlers.context import Services
    from reportbot.handlers.render import Renderer
    from reportbot.rules.policy import Policy
    from reportbot.scheduler.clock import SystemClock

    policy = Policy()
    services = Services(db=Database(spec.db_url), render=Renderer(policy.timezone), policy=policy)
    transport = TelegramTransport(services, SystemClock(), Path(tempfile.mkdtemp()) / "outbox.journal")
    settings = Settings(
        telegram_bot_token=spec.token, telegram_base_url=spec.base_url, telegram_poll_interval=POLL_INTERVAL
    )
    if spec.production_limiter:
        return transport.build(settings), transport, settings
    from telegram.ext import AIORateLimiter

    unlimited = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
    return transport.build(settings, rate_limiter=unlimited), transport, settings


def _echo_application(spec: BotSpec) -> Any:
    """The framework ceiling: one reply per text message, nothing else."""
    from telegram import Update
    from telegram.ext import ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_text(update.effective_message.text)

    application = _builder(spec).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    return application


def serve(spec: BotSpec) -> None:
    """Run the bot, saying READY once it serves; stop on SIGINT. Our bot runs as `reportbot run` runs it
    (TelegramTransport.serve: its own polling loop, bot/polling.py); the echo bot runs PTB's run_polling."""
    threading.Thread(target=_stop_when_orphaned, daemon=True).start()
    if spec.kind == "echo":
        from telegram.ext import Application

        application: Application = _echo_application(spec)  # type: ignore[type-arg]

        async def ready(app: Application) -> None:  # type: ignore[type-arg]
            print("READY", flush=True)

        application.post_init = ready
        application.run_polling(poll_interval=POLL_INTERVAL, allowed_updates=["message", "callback_query"])
        return
    asyncio.run(_serve_reportbot(spec))


async def _serve_reportbot(spec: BotSpec) -> None:
    application, transport, settings = _reportbot_application(spec)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(transport.serve(application, settings, stop=stop))
    started = asyncio.create_task(transport.started.wait())
    await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
    if started.done():
        print("READY", flush=True)
    await serving


def _stop_when_orphaned() -> None:
    """Ctrl-C ourselves when the benchmark process goes away (our stdin is its pipe)."""
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGINT)


@dataclass
class Session:
    """A bot process serving an emulator, and the people talking to it."""

    people: People
    process: asyncio.subprocess.Process
    spawned: float  # wall time just before the spawn
    log: Path
    emulator: Emulator | None = None

    def cpu_seconds(self) -> float:
        """User + system CPU the bot process has used so far."""
        return process_cpu_seconds(self.process.pid)

    def peak_rss_mib(self) -> float:
        return peak_rss_mib(self.process.pid)


@contextlib.asynccontextmanager
async def bot_on_emulator(
    command: Callable[[Emulator, str], tuple[list[str], dict[str, str]]],
    log: Path,
    before_spawn: Callable[[People], Any] | None = None,
    ready: bool = True,
) -> AsyncIterator[Session]:
    """A fresh emulator and a bot process on it (command(emulator, token) → argv, extra env).

    before_spawn(people) is awaited first; with ready, waits for the process's READY line.
    On exit the bot gets SIGINT (then SIGKILL after 15 s) and the emulator is stopped.
    """
    async with Emulator() as emulator:
        people = People(emulator, new_token())
        argv, env = command(emulator, people.token)
        if before_spawn is not None:
            await before_spawn(people)
        with log.open("ab") as err:
            spawned = time.time()
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=log.parent,
                env={**os.environ, **env},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
            )
        session = Session(people, process, spawned, log, emulator)
        try:
            if ready:
                await _until_ready(session)
            yield session
        finally:
            await stop(process)
            await people.http.close()


async def _until_ready(session: Session, timeout: float = 60.0) -> None:
    assert session.process.stdout is not None
    line = await asyncio.wait_for(session.process.stdout.readline(), timeout)
    if line.strip() != b"READY":
        raise RuntimeError(f"bot process did not start:\n{session.log.read_text()[-3000:]}")


def serve_command(spec: BotSpec) -> Callable[[Emulator, str], tuple[list[str], dict[str, str]]]:
    """The command that runs spec in a bot process on the given emulator with the given token."""

    def command(emulator: Emulator, token: str) -> tuple[list[str], dict[str, str]]:
        full = BotSpec(**{**asdict(spec), "token": token, "base_url": emulator.base_url})
        argv = [sys.executable, "-m", "bench.telegram_bot", "serve", json.dumps(asdict(full))]
        return argv, {"PYTHONPATH": str(ROOT)}

    return command


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(BotSpec(**json.loads(sys.argv[2])))
