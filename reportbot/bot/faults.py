"""What a transport does when handling an incoming message fails (SPEC §13): wait, try again, or set aside.

Every transport (polling, webhook, WeCom, console) takes its messages in the channel's order and must
not lose one. When handling one fails, ``Faults.after`` decides, from what the failure *is*
(storage/health.py), never from how often it happened:

* ``Step.WAIT`` — the database is away (an outage). The message is not confirmed to its channel and
  not counted; the transport waits until the database answers (``Watch.wait_until_up``) and handles it
  again, then what came after it, in order. However long that takes.
* ``Step.AGAIN`` — the database answers, the message failed: try again after ``pause`` seconds (none
  after a dropped connection). Only ``ATTEMPTS`` times in a row, then
* ``Step.SET_ASIDE`` — the message itself fails while the database is healthy (a bug, an input nobody
  foresaw): it goes to the dead letters (handlers/deadletters.py), its sender is told and the admins
  alerted, and the transport goes on with the next one.

``Patience`` tells a person whose message has waited ``TELL_AFTER`` seconds because of an outage,
once per outage, that it is in and will be handled in turn; the receipt follows when it is handled.
It sends on the channel directly (the database is what is away), on channels that can still send.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from reportbot.handlers.render import Renderer
from reportbot.rules.report_parse import is_report
from reportbot.storage.health import Verdict, Watch

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a message that fails this often in a row with the database answering is set aside
TELL_AFTER = 30.0  # seconds a message may wait for the database before its sender is told it is in
TICK = 1.0  # how often Patience looks for someone to tell


class Step(enum.Enum):
    WAIT = "wait"
    AGAIN = "again"
    SET_ASIDE = "set_aside"


@dataclass(frozen=True)
class Decision:
    step: Step
    pause: float = 0.0


class Faults:
    """Decides after each failure; remembers per message how often it failed with the database healthy."""

    def __init__(self, watch: Watch, attempts: int = ATTEMPTS) -> None:
        self.watch = watch
        self.attempts = attempts
        self._failures: dict[str, int] = {}

    async def after(self, key: str, exc: BaseException) -> Decision:
        verdict = await self.watch.classify(exc)
        if verdict is Verdict.OUTAGE:
            log.info("message %s waits for the database (%s)", key, type(exc).__name__)
            return Decision(Step.WAIT)
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        if failures >= self.attempts:
            log.error("message %s failed %d times with the database answering; setting it aside as a dead letter "
                      "(%s: %s)", key, failures, type(exc).__name__, exc)
            self._failures.pop(key, None)
            return Decision(Step.SET_ASIDE)
        if verdict is Verdict.BLIP:
            log.warning("message %s: its database connection had closed (%s); trying again", key, type(exc).__name__)
            return Decision(Step.AGAIN, 0.0)
        log.warning("message %s failed (%s); trying again", key, type(exc).__name__,
                    exc_info=exc if failures == 1 else None)
        return Decision(Step.AGAIN, float(failures))

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


Tell = Callable[[str, str, Any], None]  # (chat, text, the transport's own context of the message)


@dataclass
class _Waiting:
    chat_id: str
    sender_id: str
    what: str  # report | message | press
    name: str | None
    since: float
    context: Any


class Patience:
    """People whose messages wait for the database, told once per outage (``tell(chat, text, context)``)."""

    def __init__(
        self, watch: Watch, render: Renderer, tell: Tell, *, after: float = TELL_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watch = watch
        self.render = render
        self.tell = tell
        self.after = after
        self.clock = clock
        self._waiting: dict[str, _Waiting] = {}
        self._told: set[tuple[str, str]] = set()  # (chat, sender) told during this outage
        self._ticker: asyncio.Task[None] | None = None

    def arrived(
        self, key: str, chat_id: str, sender_id: str, text: str | None, *, name: str | None = None,
        since: float | None = None, context: Any = None,
    ) -> None:
        """A message that waits (``text`` None: a button press); ``since``: when it came (monotonic)."""
        if key in self._waiting:
            return
        what = "press" if text is None else "report" if is_report(text) else "message"
        self._waiting[key] = _Waiting(chat_id, sender_id, what, name, self.clock() if since is None else since,
                                      context)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="patience")

    def handled(self, key: str) -> None:
        if self._waiting.pop(key, None) is not None and not self._waiting:
            self._told.clear()  # the outage's backlog is through: a next outage tells again

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def tell_waiting(self) -> int:
        """Tell everyone who has waited long enough and was not told in this outage; how many were told."""
        if not self.watch.is_down:
            return 0
        now, told = self.clock(), 0
        for waiting in list(self._waiting.values()):
            who = (waiting.chat_id, waiting.sender_id)
            if who in self._told or now - waiting.since < self.after:
                continue
            self._told.add(who)
            text = self.render("outage_waiting.j2", what=waiting.what, name=waiting.name)
            try:
                self.tell(waiting.chat_id, text, waiting.context)
                told += 1
            except Exception:
                log.warning("could not tell %s that their message waits", waiting.chat_id, exc_info=True)
        return told

    async def _tick(self) -> None:
        while self._waiting:
            self.tell_waiting()
            await asyncio.sleep(TICK)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker


async def through_outages(watch: Watch, work: Callable[[], Awaitable[None]], what: str) -> None:
    """``work()``, done again after an outage (or a dropped connection) until it goes through; a failure of
    its own is raised. For a transport's start-up steps (answers left unsent), which nothing may skip."""
    while True:
        try:
            return await work()
        except Exception as exc:
            verdict = await watch.classify(exc)
            if verdict is Verdict.FAILURE:
                raise
            log.warning("%s waits for the database (%s)", what, type(exc).__name__)
            await watch.wait_until_up()
