"""The polling loop confirms an update (asks for the next offset) only after it was handled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from reportbot.bot import polling
from reportbot.bot.faults import Decision, Faults
from reportbot.storage.health import Verdict


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


class FakeWatch:
    """The database's health as a test scripts it: ``down`` probes fail before it answers again."""

    def __init__(self, verdict: Verdict = Verdict.FAILURE, down: int = 0) -> None:
        self.verdict = verdict
        self.down = down
        self.waits = 0

    async def classify(self, exc: BaseException) -> Verdict:
        return self.verdict

    async def wait_until_up(self, stop: asyncio.Event | None = None, timeout: float | None = None) -> bool:
        self.waits += 1
        if self.down:
            self.down -= 1
            return False
        return True


@dataclass
class FakeTrouble:
    """The transport's side of polling.Trouble, with bot/faults.py deciding over a scripted watch."""

    watch: FakeWatch
    set_aside_fails: int = 0
    set_aside_calls: list[int] = field(default_factory=list)
    waited: list[int] = field(default_factory=list)
    done: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.faults = Faults(self.watch)  # type: ignore[arg-type]

    async def decide(self, update: FakeUpdate, exc: BaseException) -> Decision:
        return await self.faults.after(f"update:{update.update_id}", exc)

    async def set_aside(self, update: FakeUpdate, exc: BaseException) -> bool:
        self.set_aside_calls.append(update.update_id)
        if self.set_aside_fails:
            self.set_aside_fails -= 1
            return False
        return True

    def waiting(self, updates: Any, since: float) -> None:
        self.waited += [u.update_id for u in updates if u.update_id not in self.waited]

    def handled(self, update: FakeUpdate) -> None:
        self.done.append(update.update_id)

    async def until_database(self, stop: asyncio.Event, timeout: float) -> bool:
        return await self.watch.wait_until_up(stop, timeout)


def failing(outcomes: dict[int, list[bool]], handled: list[int]):  # type: ignore[no-untyped-def]
    """A handler: update u fails while outcomes[u] pops False (the default: it goes through)."""

    async def handle(update: FakeUpdate) -> BaseException | None:
        handled.append(update.update_id)
        script = outcomes.get(update.update_id)
        ok = script.pop(0) if script else True
        return None if ok else ConnectionError("the database went away")

    return handle


async def test_a_failed_update_stops_the_batch_unconfirmed_and_is_handled_again(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(polling, "_pause", _no_pause)
    stop = asyncio.Event()
    bot = FakeBot([1, 2, 3], stop=stop)
    handled: list[int] = []
    trouble = FakeTrouble(FakeWatch(Verdict.FAILURE))
    handle = failing({2: [False, True]}, handled)

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, handle, trouble, interval=0, allowed_updates=()), 5)
    assert handled == [1, 2, 2, 3]
    assert bot.offsets == [0, 2, 4]  # 2 was not confirmed until it had been handled
    assert trouble.done == [1, 2, 3] and trouble.set_aside_calls == []


async def test_an_outage_is_waited_out_however_long_and_nothing_is_skipped_or_counted() -> None:
    """Update 2 meets the database down ten times in a row: never counted as its fault, never skipped.
    While waiting the loop looks at Telegram again (confirming nothing new) to learn who else waits."""
    stop = asyncio.Event()
    bot = FakeBot([1, 2, 3], stop=stop)
    handled: list[int] = []
    watch = FakeWatch(Verdict.OUTAGE, down=4)  # each wait: four looks before the database answers
    trouble = FakeTrouble(watch)
    handle = failing({2: [False] * 10 + [True]}, handled)

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, handle, trouble, interval=0, allowed_updates=()), 5)
    assert handled == [1] + [2] * 11 + [3]
    assert trouble.set_aside_calls == [] and trouble.done == [1, 2, 3]
    assert trouble.waited == [2, 3]  # the rest of the batch, and what the looks found
    assert set(bot.offsets[1:-1]) == {2}  # every getUpdates while waiting asked from 2 on: nothing confirmed
    assert bot.offsets[-1] == 4


async def test_an_update_that_keeps_failing_with_the_database_healthy_is_set_aside_and_the_next_goes_on(
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setattr(polling, "_pause", _no_pause)
    stop = asyncio.Event()
    bot = FakeBot([7, 8], stop=stop)
    handled: list[int] = []
    trouble = FakeTrouble(FakeWatch(Verdict.FAILURE))

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, failing({7: [False] * 9}, handled), trouble,
                                        interval=0, allowed_updates=()), 5)
    assert handled == [7, 7, 7, 8]
    assert trouble.set_aside_calls == [7] and trouble.done == [7, 8]
    assert bot.offsets == [0, 0, 0, 9]  # 7 stayed unconfirmed until it was set aside


async def test_an_update_whose_setting_aside_fails_is_not_confirmed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(polling, "_pause", _no_pause)
    stop = asyncio.Event()
    bot = FakeBot([7, 8], stop=stop)
    handled: list[int] = []
    trouble = FakeTrouble(FakeWatch(Verdict.FAILURE), set_aside_fails=1)

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, failing({7: [False] * 9}, handled), trouble,
                                        interval=0, allowed_updates=()), 5)
    assert trouble.set_aside_calls == [7, 7]  # the first try failed: 7 stayed unconfirmed and came again
    assert trouble.done == [7, 8] and 8 not in handled[:6]


@dataclass
class BusyBot(FakeBot):
    """Answers getUpdates with 429 (RetryAfter) once before handing out the updates."""

    told: RetryAfter | None = None

    async def get_updates(self, offset: int, timeout: int, allowed_updates: list[str]) -> list[FakeUpdate]:
        if self.told is not None:
            told, self.told = self.told, None
            raise told
        return await super().get_updates(offset, timeout, allowed_updates)


@pytest.mark.parametrize("wait", [7, timedelta(seconds=7.5)], ids=["seconds", "timedelta"])
async def test_told_to_wait_the_loop_pauses_as_long_as_telegram_said(monkeypatch, wait) -> None:  # type: ignore[no-untyped-def]
    """PTB 22 gives RetryAfter.retry_after in seconds, or a timedelta once PTB_TIMEDELTA is set (the
    next major version's only way); either is the pause, not a guess."""
    pauses: list[float] = []

    async def pause(stop: asyncio.Event, seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(polling, "_pause", pause)
    monkeypatch.setenv("PTB_TIMEDELTA", "1" if isinstance(wait, timedelta) else "0")
    stop = asyncio.Event()
    bot = BusyBot([1], stop=stop, told=RetryAfter(wait))
    handled: list[int] = []

    async def handle(update: FakeUpdate) -> BaseException | None:
        handled.append(update.update_id)
        return None

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, handle, FakeTrouble(FakeWatch()), interval=0,
                                        allowed_updates=()), 5)
    assert pauses[0] == (7.0 if wait == 7 else 7.5)
    assert handled == [1]


class FakeBatch:
    """delivery.batch's part: which updates shared a transaction, and whether it committed."""

    def __init__(self, commit_fails: int = 0) -> None:
        self.groups: list[tuple[list[int], str]] = []
        self.current: list[int] | None = None
        self.commit_fails = commit_fails

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        self.current = []
        try:
            yield
        except BaseException:
            self.groups.append((self.current, "rolled back"))
            raise
        finally:
            group, self.current = self.current, None
        if self.commit_fails:
            self.commit_fails -= 1
            self.groups.append((group, "commit failed"))
            raise OSError("the database went away at the commit")
        self.groups.append((group, "committed"))

    def handled(self, update_id: int) -> None:
        if self.current is not None:
            self.current.append(update_id)


async def poll_in_groups(
    updates: list[int], *, failing: dict[int, int] | None = None, commit_fails: int = 0
) -> tuple[FakeBot, FakeBatch, list[int]]:
    """Poll ``updates`` with a FakeBatch until all are confirmed; update u fails failing[u] times first."""
    stop, failing = asyncio.Event(), dict(failing or {})
    bot, batch, handled = FakeBot(updates, stop=stop), FakeBatch(commit_fails), []

    async def handle(update: FakeUpdate) -> BaseException | None:
        handled.append(update.update_id)
        batch.handled(update.update_id)
        if failing.get(update.update_id):
            failing[update.update_id] -= 1
            return ConnectionError("the database went away")
        return None

    await asyncio.wait_for(polling.poll(FakeApplication(bot), stop, handle, FakeTrouble(FakeWatch(Verdict.BLIP)),
                                        interval=0, allowed_updates=(), batch=batch), 5)
    return bot, batch, handled


async def test_a_fetched_batch_is_handled_in_order_in_groups_of_one_transaction_each() -> None:
    bot, batch, handled = await poll_in_groups(list(range(1, 41)))
    assert handled == list(range(1, 41))  # each once, in Telegram's order
    assert [(len(g), how) for g, how in batch.groups] == [(16, "committed"), (16, "committed"), (8, "committed")]
    assert bot.offsets == [0, 41]


async def test_a_group_commits_early_once_its_time_is_up(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Its first answer waits for the group's commit: a group ends after GROUP_SECONDS of handling."""
    monkeypatch.setattr(polling, "GROUP_SECONDS", 0.0)  # every update is "slow": groups of one
    bot, batch, handled = await poll_in_groups([1, 2, 3])
    assert batch.groups == [([1], "committed"), ([2], "committed")]  # the last one is alone anyway
    assert handled == [1, 2, 3] and bot.offsets == [0, 4]


async def test_a_failure_in_a_group_rolls_it_back_and_its_updates_are_handled_one_by_one(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(polling, "_pause", _no_pause)
    bot, batch, handled = await poll_in_groups([1, 2, 3, 4], failing={3: 2})  # 3 fails twice, then goes through
    # The group [1, 2, 3] is rolled back at 3; then one by one: 1, 2, 3 (fails, unconfirmed, paused);
    # fetched again from 3: the group [3, 4] fails no more.
    assert batch.groups == [([1, 2, 3], "rolled back"), ([3, 4], "committed")]
    assert handled == [1, 2, 3, 1, 2, 3, 3, 4]
    assert bot.offsets == [0, 3, 5]


async def test_a_failed_commit_hands_the_group_over_to_one_by_one() -> None:
    bot, batch, handled = await poll_in_groups([1, 2], commit_fails=1)
    assert batch.groups == [([1, 2], "commit failed")]
    assert handled == [1, 2, 1, 2] and bot.offsets == [0, 3]


async def _no_pause(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(0)
