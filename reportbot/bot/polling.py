"""Long polling that confirms an update only once it has been handled: at least once, never lost.

PTB's own Updater confirms a batch (by asking for the next offset) as soon as it has *fetched* it,
while the updates still wait in its queue: a crash then loses them, Telegram having been told they
arrived. Here the next ``getUpdates`` (which carries the confirming offset) is asked only after every
update of the batch has been handled and committed. A crash in between makes Telegram hand the
unconfirmed updates out again; ``handlers.delivery`` makes handling them a second time a no-op.

A fetched batch is handled in groups, each group in one database transaction (``batch``, i.e.
``delivery.batch``): one commit, and on SQLite one write lock, for the group instead of one per update,
in the order Telegram gave them. The answers go out once their group has committed, so a group is
kept short: it commits after ``GROUP`` updates or once ``GROUP_SECONDS`` have passed, whichever comes
first, so that its first answer waits a few milliseconds at most. If an update of a group fails, or
the commit does, the group is rolled back whole and its updates are handled again one by one, each in
its own transaction, as without groups.

A failed update is not counted as the update's fault when the database is what failed (bot/faults.py):
the loop then waits, confirming nothing, for as long as the outage lasts, and goes on where it stopped.
Only an update that fails with the database healthy is, after a few attempts, set aside as a dead letter
(its sender told, the admins alerted) so that the updates behind it are not held up for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any, Protocol

from telegram.error import NetworkError, RetryAfter, TimedOut

from reportbot.bot.faults import Decision, Step
from reportbot.storage.health import is_outage

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 10  # Telegram holds getUpdates open this long when there is nothing to hand out
MAX_BACKOFF_SECONDS = 30.0
PEEK_SECONDS = 5.0  # during an outage, how often the loop looks at what else is waiting (to tell people)


GROUP = 16  # updates in one transaction at most
GROUP_SECONDS = 0.003  # a group commits once its handling has taken this long
Batch = Callable[[], AbstractAsyncContextManager[None]]


class Trouble(Protocol):
    """What the loop asks when handling an update failed (the transport answers, with bot/faults.py)."""

    async def decide(self, update: Any, exc: BaseException) -> Decision:
        """Wait for the database, try again, or set the update aside."""

    async def set_aside(self, update: Any, exc: BaseException) -> bool:
        """Record it as a dead letter (its sender told, the admins alerted); False if that failed too."""

    def waiting(self, updates: Sequence[Any], since: float) -> None:
        """These updates wait for the database since ``since`` (time.monotonic())."""

    def handled(self, update: Any) -> None: ...

    async def until_database(self, stop: asyncio.Event | None, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for the database to answer again; True once it does."""


class _GroupFailed(Exception):
    """An update of a group could not be handled: the group is rolled back and handled one by one."""


async def poll(
    application: Any, stop: asyncio.Event, handle: Callable[[Any], Awaitable[BaseException | None]],
    trouble: Trouble, *, interval: float, allowed_updates: Sequence[str], batch: Batch | None = None,
) -> None:
    """Fetch, handle in order, then confirm; until ``stop`` is set. Network trouble: back off.

    ``handle`` returns the exception an update failed with, None once it is handled and committed. A
    failure stops the batch there, unconfirmed; ``trouble`` decides what then: wait for the database
    (however long: nothing is skipped for an outage), try again, or set the update aside as a dead letter
    and go on. Then the loop fetches again from the first update not handled. ``batch``: a transaction
    that several updates may share (module docstring); None, each update is handled on its own.
    """
    offset = 0
    backoff = 1.0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            application.bot.get_updates(offset=offset, timeout=LONG_POLL_SECONDS, allowed_updates=list(allowed_updates))
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch
            break
        try:
            updates = fetch.result()
        except RetryAfter as exc:
            await _pause(stop, retry_seconds(exc))
            continue
        except (NetworkError, TimedOut) as exc:  # Telegram unreachable for a while: try again, slower each time
            log.warning("getUpdates failed (%s); retrying in %.0f s", exc, backoff)
            await _pause(stop, backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
            continue
        backoff = 1.0
        fetched_at = time.monotonic()
        i, alone_until = 0, 0  # the updates of a failed group are handled one by one
        while i < len(updates):
            group = updates[i : i + GROUP]
            if batch is not None and len(group) > 1 and i >= alone_until:
                if done := await _in_one_transaction(group, handle, batch):
                    for update in group[:done]:
                        trouble.handled(update)
                    i += done
                    offset = group[done - 1].update_id + 1
                    await asyncio.sleep(0)  # let the group's answers start going out
                    continue
                alone_until = i + len(group)
            update = updates[i]
            error = await handle(update)
            if error is not None:
                decision = await trouble.decide(update, error)
                if decision.step is Step.WAIT:
                    trouble.waiting(updates[i:], fetched_at)
                    await _wait_out(application, stop, trouble, offset, allowed_updates)
                    break  # fetched again from ``offset``: the waiting ones come first, in Telegram's order
                if decision.step is Step.AGAIN:
                    await _pause(stop, decision.pause)
                    break
                if not await trouble.set_aside(update, error):
                    break
            trouble.handled(update)
            offset = update.update_id + 1
            i += 1
            # Handling a report need not wait for anything (storage.sqlite_driver), so without this
            # the answers of a whole batch would only start going out once the batch is done.
            await asyncio.sleep(0)
        if not updates and interval:
            await _pause(stop, interval)


async def _wait_out(
    application: Any, stop: asyncio.Event, trouble: Trouble, offset: int, allowed_updates: Sequence[str]
) -> None:
    """Until the database answers: confirm nothing, and look now and then at what else waits at Telegram
    (getUpdates from the same offset confirms nothing new), so that those people can be told too."""
    while not stop.is_set():
        try:
            waiting = await application.bot.get_updates(offset=offset, timeout=0, allowed_updates=list(allowed_updates))
        except Exception as exc:  # noqa: BLE001 — only a look; the wait goes on regardless
            log.debug("looking at the waiting updates failed: %s", exc)
        else:
            trouble.waiting(waiting, time.monotonic())
        if await trouble.until_database(stop, PEEK_SECONDS):
            return


async def _in_one_transaction(
    group: Sequence[Any], handle: Callable[[Any], Awaitable[BaseException | None]], batch: Batch
) -> int:
    """Handle the group (or, once GROUP_SECONDS have passed, its first updates) in one transaction: how
    many were handled and committed; 0 (and nothing of them recorded or answered) if any failed."""
    started, done = time.monotonic(), 0
    try:
        async with batch():
            for update in group:
                if await handle(update) is not None:
                    raise _GroupFailed
                done += 1
                if time.monotonic() - started >= GROUP_SECONDS:
                    break
    except _GroupFailed:
        log.info("an update of a group of %d failed; handling them one by one", len(group))
        return 0
    except Exception as exc:  # the commit itself: the same, one by one, where each failure is looked at
        log.warning("committing a group of %d updates failed; handling them one by one", len(group),
                    exc_info=None if is_outage(exc) else exc)
        return 0
    return done


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked us to wait: seconds in PTB 22, a timedelta once PTB_TIMEDELTA is set (and
    in PTB's next major version)."""
    wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
