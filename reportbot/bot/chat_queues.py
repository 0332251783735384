"""Outgoing messages of the long-connection messengers: one queue per conversation under its limits.

WeCom's 智能机器人长连接 document limits what a robot sends into one conversation (replies and pushes
together) to 30 messages a minute and 1000 an hour; DingTalk and Feishu have limits of their own
(bot/dingtalk.py, bot/feishu.py). As on Telegram, a busy group never holds up
anyone's private receipt: every conversation has its own queue and worker, and a send waits for
its window instead of being dropped. A send that fails (the connection went away) is tried again
once the connection is back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from reportbot.bot.lines import Gathering, Lines, Pace, send_taken
from reportbot.handlers.messages import Edit, Send

log = logging.getLogger(__name__)

WECOM_LIMITS: tuple[tuple[int, float], ...] = ((30, 60.0), (1000, 3600.0))  # (messages, per seconds)


class RateLimit:
    """Sliding windows per conversation: ``acquire`` waits until one more message fits every window."""

    def __init__(
        self,
        limits: tuple[tuple[int, float], ...] = WECOM_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    def wait_for(self, chat: str) -> float:
        """Seconds until one more message to ``chat`` stays within every window (0: now)."""
        sent = self._sent.get(chat)
        if not sent:
            return 0.0
        now = self.clock()
        longest = max(period for _, period in self.limits)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        wait = 0.0
        for count, period in self.limits:
            recent = [t for t in sent if t > now - period]
            if len(recent) >= count:
                wait = max(wait, recent[-count] + period - now)
        return wait

    def record(self, chat: str) -> None:
        self._sent.setdefault(chat, deque()).append(self.clock())

    async def acquire(self, chat: str) -> None:
        while (wait := self.wait_for(chat)) > 0:
            await self.sleep(wait)
        self.record(chat)


@dataclass(frozen=True)
class Outgoing:
    """One answer in a chat's line: a message, or an edit of one; ``reply`` what the channel may answer it on."""

    action: Send | Edit
    reply: object | None = None
    outbox_id: int | None = None  # the stored answer (handlers.delivery), marked sent once it went out
    also: tuple[int, ...] = ()  # a gathered card: the other stored answers (cards) it stands for
    # The same on every try of this item: a messenger that de-duplicates sends by a key of ours (DingTalk's
    # cardBizId, Feishu's uuid) then posts it once, should a try go through without its answer coming back.
    key: str = field(default_factory=lambda: secrets.token_hex(10), compare=False)

    @property
    def outbox_ids(self) -> tuple[int, ...]:
        return (() if self.outbox_id is None else (self.outbox_id,)) + self.also

    @property
    def chat_id(self) -> str:
        return self.action.chat_id

    @property
    def card_of(self) -> int | None:
        return self.action.card_of if isinstance(self.action, Send) else None


class HasChat(Protocol):
    @property
    def chat_id(self) -> str: ...


T = TypeVar("T", bound=HasChat)


@dataclass
class Retry:
    """How often, and after what pause, a failed send is tried again (the pause waits for the connection).
    ``attempts`` None: until it goes through — for a messenger reached over HTTP, whose outage may last longer
    than a few tries; only a ``Refused`` send is given up at once."""

    attempts: int | None = 6
    first_pause: float = 1.0
    longest_pause: float = 30.0


class Refused(Exception):
    """The messenger refused the message for good (a bad request, no such chat): trying again cannot help."""


class ChatQueues(Generic[T]):
    """A worker per conversation sends its items in order, each within the limits, retrying failures. With
    ``combine``, the report cards waiting in a conversation that fell behind go out as one (bot/lines.py)."""

    def __init__(
        self,
        send: Callable[[T], Awaitable[None]],
        limit: RateLimit,
        ready: Callable[[], Awaitable[None]],
        gave_up: Callable[[T], Awaitable[None]] | None = None,
        retry: Retry | None = None,
        *,
        combine: Callable[[str, list[T]], Awaitable[T]] | None = None,
        card_of: Callable[[T], int | None] = lambda _: None,
        gathering: Gathering | None = None,
        pace: Pace | None = None,
        name: str = "wecom",
    ) -> None:
        self._send = send
        self._pace = pace
        self._limit = limit
        self._ready = ready
        self._gave_up = gave_up
        self._retry = retry or Retry()
        self._combine = combine
        self._lines_name = name
        self._lines: Lines[T] = Lines(self._work, name=name, card_of=card_of,
                                      gathering=gathering if combine is not None else None, ready=self._card_ready)

    def put(self, item: T) -> None:
        self._lines.put(item.chat_id, item)

    async def _card_ready(self, chat: str) -> None:
        """A card at the head of a line waits for its pace and for room in the windows before it is taken."""
        if self._pace is not None:
            await self._pace(chat)
        await self._ready()
        while (wait := self._limit.wait_for(chat)) > 0:
            await self._limit.sleep(wait)

    async def _work(self, chat: str, items: list[T], gathered: bool) -> None:
        await send_taken(chat, items, gathered, self._combine, self._deliver)

    async def _deliver(self, item: T) -> None:
        pause = self._retry.first_pause
        attempt = 0
        while True:
            attempt += 1
            await self._ready()
            await self._limit.acquire(item.chat_id)
            try:
                await self._send(item)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — whatever failed, the message is tried again unless refused
                if isinstance(exc, Refused) or attempt == self._retry.attempts:
                    log.error("giving up on a message to %s after %d attempts: %s", item.chat_id, attempt, exc)
                    if self._gave_up is not None:
                        await self._gave_up(item)
                    return
                log.warning("sending to %s failed (%s); trying again in %.0f s", item.chat_id, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self._retry.longest_pause)

    async def drain(self) -> None:
        await self._lines.drain()

    async def close(self, timeout: float = 10.0) -> None:
        """Send what is queued (at most ``timeout`` seconds), then stop the workers."""
        if left := await self._lines.close(timeout):
            log.warning("stopping with %d %s messages unsent; stored answers go out at the next start", left,
                        self._lines_name)
