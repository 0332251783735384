"""The polling loop confirms an update (asks for the next offset) only after it was handled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from reportbot.bot import polling


@dataclass
class FakeUpdate:
    update_id: int


@dataclass
class FakeBot:
    """Telegram's side: hands out every update from ``offset`` on, as the real getUpdates does."""

    pending: list[int]
    offsets: list[int] = field(default_factory=list)
    stop: asyncio.Event | None = None

    async def get_updates(self, offset: int, timeout: int, allowed_updates: list[str]) -> list[FakeUpdate]:
        self.offsets.append(offset)
        self.pending = [u for u in self.pending if u >= offset]
        if not self.pending and self.stop is not None:
            self.stop.set()
        return [FakeUpdate(u) for u in self.pending]


@dataclass
class FakeApplication:
    bot: FakeBot


async def test_a_failed_update_stops_the_batch_unconfirmed_and_is_handled_again(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(polling, "_pause", _no_pause)
    stop = asyncio.Event()
    bot = FakeBot([1, 2, 3], stop=stop)
    outcomes = {2: [False, True]}  # the database is away once while update 2 is handled
    handled: list[int] = []

    async def handle(update: FakeUpdate) -> bool:
        ok = outcomes.get(update.update_id, [True]).pop(0) if outcomes.get(update.update_id) else True
        handled.append(update.update_id)
        return ok

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, handle, interval=0, allowed_updates=()), 5)
    assert handled == [1, 2, 2, 3]
    assert bot.offsets == [0, 2, 4]  # 2 was not confirmed until it had been handled


async def test_an_update_that_always_fails_is_skipped_after_three_attempts(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(polling, "_pause", _no_pause)
    stop = asyncio.Event()
    bot = FakeBot([7, 8], stop=stop)
    handled: list[int] = []

    async def handle(update: FakeUpdate) -> bool:
        handled.append(update.update_id)
        return update.update_id != 7

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, handle, interval=0, allowed_updates=()), 5)
    assert handled == [7, 7, 7, 8]
    assert "update 7 failed 3 times" in caplog.text


async def _no_pause(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(0)
