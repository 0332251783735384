"""Per-chat lines of outgoing messages, and the gathering of report cards when a group's line falls behind.

Both chat transports send through one line per chat, each with its own worker, so that a group held back
by its limit never holds up anyone's private reply (Telegram lets 20 messages a minute into a group, WeCom
30). When a group's line falls behind — more report cards waiting in it than the group's limit lets out
in about 10 seconds — its worker takes the waiting cards together, up to what one card holds, and the
transport sends them as one gathered card (handlers.cards.gather). Other messages keep their places, and
the cards keep their order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

BEHIND_SECONDS = 10.0  # a line is behind when its cards would take longer than this to go out one by one

T = TypeVar("T")


@dataclass(frozen=True)
class Gathering:
    """Gather when more than ``after`` cards wait in a line; at most ``most`` on one card."""

    after: int
    most: int

    @classmethod
    def behind_limit(cls, count: int, period: float, most: int) -> Gathering:
        """For a group limit of ``count`` messages per ``period`` seconds: what it lets out in about 10 s."""
        return cls(max(1, int(count * BEHIND_SECONDS / period)), most)


class Pace:
    """A token bucket per chat: on average ``count`` per ``period`` seconds, at most ``burst`` at once. A line
    whose channel counts its limit in a sliding window (WeCom: 30 a minute) paces its cards with it, so that a
    burst does not spend the whole window on single cards and then wait a minute with everything queued:
    each card goes out when the bucket lets it, carrying every card that waited meanwhile."""

    def __init__(
        self, count: int, period: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = count / period
        self.burst = float(burst)
        self.clock = clock
        self.sleep = sleep
        self._buckets: dict[str, tuple[float, float]] = {}  # chat → (tokens, when counted)

    def _tokens(self, chat: str) -> float:
        tokens, at = self._buckets.get(chat, (self.burst, self.clock()))
        return min(self.burst, tokens + (self.clock() - at) * self.rate)

    async def __call__(self, chat: str) -> None:
        """Wait for a token of this chat's bucket, and take it."""
        while (tokens := self._tokens(chat)) < 1:
            await self.sleep((1 - tokens) / self.rate)
        self._buckets[chat] = (tokens - 1, self.clock())


def take(
    line: deque[T], card_of: Callable[[T], int | None], gathering: Gathering | None, in_doubt: Callable[[T], bool]
) -> tuple[list[T], bool]:
    """What to send next from a line, and whether it is to be gathered into one card: the first item; or, the
    first being a card and the line behind (or the card in doubt: it may have arrived before a crash, and a
    gathered card says which card is live), it and the cards waiting behind it, in order."""
    first = line.popleft()
    if gathering is None or card_of(first) is None:
        return [first], False
    waiting = 1 + sum(1 for item in line if card_of(item) is not None)
    if waiting <= gathering.after and not in_doubt(first):
        return [first], False
    taken: list[T] = [first]
    passed: list[T] = []
    while line and len(taken) < gathering.most:
        item = line.popleft()
        (taken if card_of(item) is not None else passed).append(item)
    line.extendleft(reversed(passed))  # the other messages, back in their places
    return taken, True


async def send_taken(
    chat: str, items: list[T], gathered: bool, combine: Callable[[str, list[T]], Awaitable[T]] | None,
    send: Callable[[T], Awaitable[None]],
) -> None:
    """Send what a worker took: one item; or, gathered, the items as one (``combine``: the gathered card),
    and should that fail (the database away), the cards one by one."""
    if gathered:
        assert combine is not None
        try:
            items = [await combine(chat, items)]
        except Exception as exc:  # noqa: BLE001 — the cards still go out, one by one
            log.warning("could not gather %d cards for chat %s (%s); sending them one by one", len(items), chat, exc)
    for item in items:
        await send(item)


Work = Callable[[str, list[T], bool], Awaitable[None]]
Ready = Callable[[str], Awaitable[None]]


class Lines(Generic[T]):
    """A line and a worker per chat; ``work(chat, items, gathered)`` sends what the worker took. ``ready``: what
    a card at the head of a line waits for before the worker takes it (and the cards behind it), so that
    whether to gather is decided when the card can go out, not before it waits for its turn."""

    def __init__(
        self,
        work: Work[T],
        *,
        name: str,
        card_of: Callable[[T], int | None] = lambda _: None,
        in_doubt: Callable[[T], bool] = lambda _: False,
        gathering: Gathering | None = None,
        ready: Ready | None = None,
    ) -> None:
        self._work = work
        self._ready = ready
        self._name = name
        self._card_of = card_of
        self._in_doubt = in_doubt
        self.gathering = gathering
        self._lines: dict[str, deque[T]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def put(self, chat: str, item: T) -> None:
        """Queue an item behind the earlier ones of the same chat; returns at once."""
        line = self._lines.get(chat)
        if line is None:
            line = self._lines[chat] = deque()
            self._wake[chat] = asyncio.Event()
            self._workers[chat] = asyncio.create_task(self._run(chat), name=f"{self._name}:{chat}")
        line.append(item)
        self._unfinished += 1
        self._idle.clear()
        self._wake[chat].set()

    def waiting(self, chat: str | None = None) -> int:
        """Items queued and not yet taken (in one chat's line, or in all)."""
        if chat is not None:
            return len(self._lines.get(chat, ()))
        return sum(len(line) for line in self._lines.values())

    async def _run(self, chat: str) -> None:
        line, wake = self._lines[chat], self._wake[chat]
        while True:
            if not line:
                wake.clear()
                await wake.wait()
                continue
            if self._ready is not None and self.gathering is not None and self._card_of(line[0]) is not None:
                await self._ready(chat)
            items, gathered = take(line, self._card_of, self.gathering, self._in_doubt)
            try:
                await self._work(chat, items, gathered)
            except Exception:  # one failure must not stop the chat's line
                log.exception("%s: sending to chat %s failed", self._name, chat)
            finally:
                self._unfinished -= len(items)
                if self._unfinished == 0:
                    self._idle.set()

    async def drain(self) -> None:
        """Wait until everything queued so far has been sent (or has failed)."""
        await self._idle.wait()

    async def close(self, timeout: float | None) -> int:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop the workers; how many items
        were left unsent (queued or in flight)."""
        try:
            await asyncio.wait_for(self.drain(), timeout)
            left = 0
        except TimeoutError:
            left = self._unfinished
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._lines.clear()
        self._wake.clear()
        self._workers.clear()
        self._unfinished = 0
        self._idle.set()
        return left
