"""The periodic sweep on a running bot: APScheduler calls it; its messages go to the transport."""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from reportbot.handlers.context import Services
from reportbot.handlers.delivery import Queued
from reportbot.handlers.sweep import Channels, run_sweep
from reportbot.scheduler.clock import Clock

log = logging.getLogger(__name__)
JOB_ID = "reportbot-sweep"  # deterministic: one job per process, replaced, never doubled


class Sweeper:
    """Runs the sweep now (at start, before updates are taken) and then every ``sweep_seconds``."""

    def __init__(self, services: Services, clock: Clock, channel: Channels, deliver: Callable[[list[Queued]], None]) -> None:
        self.services = services
        self.clock = clock
        self.channel = channel  # one channel, or every channel this process runs (bot/channels.py)
        self.deliver = deliver
        self.scheduler = AsyncIOScheduler(timezone=services.policy.timezone)

    async def run_once(self) -> None:
        try:
            self.deliver(await run_sweep(self.services, self.clock.now(), self.channel))
        except Exception:  # the next sweep tries again; nothing is marked sent unless claimed
            log.exception("sweep failed")

    async def start(self) -> None:
        await self.run_once()
        self.scheduler.add_job(
            self.run_once, IntervalTrigger(seconds=self.services.policy.sweep_seconds), id=JOB_ID,
            replace_existing=True, max_instances=1, coalesce=True,
        )
        self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
