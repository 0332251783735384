"""What the DingTalk and Feishu fakes share: an aiohttp server (HTTP + WebSocket on one port), the record of
what the bot sent, the messenger's per-chat limit (a send beyond it is refused, as the messenger refuses it,
and counted), and waiting for what a test expects."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass
class Sent:
    """A message the bot sent and the messenger accepted: text, a card, or a card's update."""

    kind: str  # text | card | update
    chat: str  # a group's id or a person's id (for an update: the card's chat)
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, data)
    card_id: str = ""
    via: str = "openapi"  # openapi | webhook (DingTalk's sessionWebhook)
    at: float = field(default_factory=time.time)

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.buttons]

    def data(self, label: str) -> str:
        return next(data for shown, data in self.buttons if shown == label)


class FakeMessenger:
    """Subclasses add their routes in ``routes`` and push callbacks over their WebSocket."""

    def __init__(self, *, per_chat: int, period: float) -> None:
        self.sent: list[Sent] = []
        self.refused = 0  # sends beyond the per-chat limit, refused as the messenger would
        self.per_chat, self.period = per_chat, period
        self._windows: dict[str, deque[float]] = {}
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.connections = 0  # long connections opened so far
        self.sockets: list[web.WebSocketResponse] = []
        self.unavailable = 0  # OpenAPI sends still to refuse with 503, as an outage of the messenger would
        self.lose_answers = 0  # OpenAPI sends still to take (and show) but answer with 503: the answer lost
        self.keys: dict[str, str] = {}  # our de-duplication key of a send (cardBizId, uuid) → its message id

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    async def __aenter__(self) -> Self:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for socket in list(self.sockets):
            await socket.close()
        assert self._runner is not None
        await self._runner.cleanup()

    def within_limit(self, chat: str) -> bool:
        """Count one send to ``chat``; False (refused) when it would pass the messenger's limit."""
        window = self._windows.setdefault(chat, deque())
        now = time.monotonic()
        while window and window[0] <= now - self.period:
            window.popleft()
        if len(window) >= self.per_chat:
            self.refused += 1
            return False
        window.append(now)
        return True

    def trouble(self) -> str | None:
        """What the OpenAPI does with this send: "down" (refused, 503), "lose" (taken, but 503), or None."""
        if self.unavailable > 0:
            self.unavailable -= 1
            return "down"
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return "lose"
        return None

    def record(self, sent: Sent) -> None:
        self.sent.append(sent)
        self.notify()

    def notify(self) -> None:
        self._changed.set()

    async def wait(self, condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        async def until() -> None:
            while not condition():
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), 0.2)
                except TimeoutError:
                    pass

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            tail = "\n".join(f"  {s.kind} → {s.chat}: {s.text[:60]!r}" for s in self.sent[-10:])
            raise AssertionError(f"waited {timeout:.0f} s for {what or 'a condition'}; last sent:\n{tail}") from None

    async def wait_connected(self, count: int = 1) -> None:
        await self.wait(lambda: self.connections >= count and bool(self.live()), what=f"connection {count}")

    def live(self) -> list[web.WebSocketResponse]:
        return [s for s in self.sockets if not s.closed]

    async def drop(self) -> None:
        """Every long connection cut, as a network failure would."""
        for socket in self.live():
            await socket.close(code=1011)

    def to(self, chat: str) -> list[Sent]:
        return [s for s in self.sent if s.chat == chat]

    def texts_to(self, chat: str) -> list[str]:
        return [s.text for s in self.to(chat) if s.kind == "text"]

    def cards(self, chat: str) -> list[Sent]:
        return [s for s in self.to(chat) if s.kind == "card"]

    def updates(self, card_id: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == "update" and s.card_id == card_id]

    async def say_and_wait(self, say: Any, chat: str, count: int = 1, what: str = "") -> list[Sent]:
        before = len(self.to(chat))
        await say
        await self.wait(lambda: len(self.to(chat)) >= before + count, what=what or f"{count} answers in {chat}")
        return self.to(chat)[before:]
