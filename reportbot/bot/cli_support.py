"""What every command of the command line needs: the settings, the database reached, the services."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from pydantic import ValidationError

from reportbot.bot.app import build_services
from reportbot.bot.policy_file import PolicyError
from reportbot.bot.settings import Settings
from reportbot.handlers.context import Services
from reportbot.handlers.directory import DirectoryError
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import SystemClock
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade

log = logging.getLogger("reportbot")
MAX_START_WAIT = 30.0  # seconds between tries, at most, while `run` waits for its database
T = TypeVar("T")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"reportbot: bad setting — {problems}") from None


def load_services(settings: Settings) -> Services:
    try:
        return build_services(settings)
    except PolicyError as exc:
        raise SystemExit(f"reportbot: {exc}") from None


def reach_database(settings: Settings, *, wait: bool = False) -> None:
    """Before anything touches the database: reach it, or say in one sentence which one and why not.

    ``wait`` (``run``, which a server may start before PostgreSQL): keep trying with a back-off, saying so
    each time; otherwise exit non-zero with that sentence.
    """
    from reportbot.storage.health import reach, unreachable

    delay = 1.0
    while (problem := reach(settings.database_url)) is not None:
        sentence = unreachable(settings.database_url, problem)
        if not wait:
            raise SystemExit(f"reportbot: {sentence}")
        log.warning("%s %.0f 秒后重试 / retrying in %.0f s.", sentence, delay, delay)
        time.sleep(delay)
        delay = min(delay * 2, MAX_START_WAIT)


def with_db(work: Callable[[Database, datetime], Awaitable[T]]) -> T:
    """``work`` on the migrated database, now; a directory problem is one sentence, not a traceback."""
    settings = load_settings()
    reach_database(settings)
    upgrade(settings.database_url)
    services = load_services(settings)

    async def main() -> T:
        try:
            return await work(services.db, SystemClock().now())
        finally:
            await services.db.dispose()

    try:
        return asyncio.run(main())
    except DirectoryError as exc:
        raise SystemExit(f"reportbot: {exc}") from None


def services_for(db: Database) -> Services:
    """Services on an open database, for the dead-letter commands (no texts are sent from here)."""
    from reportbot.handlers.render import Renderer

    policy = Policy()
    return Services(db=db, render=Renderer(policy.timezone), policy=policy)
