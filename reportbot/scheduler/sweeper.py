"""The periodic sweep on a running bot: APScheduler calls it; its messages go to the transport.

Each run also handles the dead letters marked for retry (``reportbot deadletters retry``) on the channels
this process runs. A run that meets an outage does nothing that counts (nothing is claimed unless its
message is stored with it) and tells the database watch, so that the transports wait with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from reportbot.handlers.context import Services
from reportbot.handlers.deadletters import retry_due
from reportbot.handlers.delivery import Queued
from reportbot.handlers.sweep import Channels, run_sweep
from reportbot.scheduler.clock import Clock
from reportbot.storage.health import Verdict

log = logging.getLogger(__name__)
JOB_ID = "reportbot-sweep"  # deterministic: one job per process, replaced, never doubled


class Sweeper:
    """Runs the sweep now (at start, before updates are taken) and then every ``sweep_seconds``."""

    def __init__(
        self, services: Services, clock: Clock, channel: Channels, deliver: Callable[[list[Queued]], None],
        deliver_on: Callable[[str, list[Queued]], None] | None = None,
    ) -> None:
        self.services = services
        self.clock = clock
        self.channel = channel  # one channel, or every channel this process runs (bot/channels.py)
        self.deliver = deliver
        self.deliver_on = deliver_on or (lambda _channel, answers: deliver(answers))
        self.scheduler = AsyncIOScheduler(timezone=services.policy.timezone)

    async def run_once(self) -> None:
        try:
            self.deliver(await run_sweep(self.services, self.clock.now(), self.channel))
            running = (self.channel,) if isinstance(self.channel, str) else self.channel
            for channel, answers in await retry_due(self.services, self.clock.now(), running, self._outage):
                self.deliver_on(channel, answers)
        except Exception as exc:  # the next sweep tries again; nothing is marked sent unless claimed
            if await self._outage(exc):
                log.warning("sweep waits for the database (%s)", type(exc).__name__)
            else:
                log.exception("sweep failed")

    async def _outage(self, exc: BaseException) -> bool:
        """Not the sweep's own fault: the database is away (now watched) or a connection dropped."""
        return await self.services.db.watch.classify(exc) is not Verdict.FAILURE

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
