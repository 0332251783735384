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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from telegram.error import NetworkError, RetryAfter, TimedOut

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 10  # Telegram holds getUpdates open this long when there is nothing to hand out
MAX_BACKOFF_SECONDS = 30.0


ATTEMPTS = 3  # an update whose handling fails this often in a row is logged and skipped, not retried for ever
GROUP = 16  # updates in one transaction at most
GROUP_SECONDS = 0.003  # a group commits once its handling has taken this long
Batch = Callable[[], AbstractAsyncContextManager[None]]


class _GroupFailed(Exception):
    """An update of a group could not be handled: the group is rolled back and handled one by one."""


async def poll(
    application: Any, stop: asyncio.Event, handle: Callable[[Any], Awaitable[bool]], *, interval: float,
    allowed_updates: Sequence[str], batch: Batch | None = None,
) -> None:
    """Fetch, handle in order, then confirm; until ``stop`` is set. Network trouble: back off.

    ``handle`` returns False when an update could not be handled (the database was down, say): the
    batch stops there, unconfirmed, and is fetched again after a pause. ``batch``: a transaction that
    several updates may share (module docstring); None, each update is handled on its own.
    """
    failures: dict[int, int] = {}
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
        i, alone_until = 0, 0  # the updates of a failed group are handled one by one
        while i < len(updates):
            group = updates[i : i + GROUP]
            if batch is not None and len(group) > 1 and i >= alone_until:
                if done := await _in_one_transaction(group, handle, batch):
                    i += done
                    offset = group[done - 1].update_id + 1
                    await asyncio.sleep(0)  # let the group's answers start going out
                    continue
                alone_until = i + len(group)
            update = updates[i]
            if not await handle(update):
                failures[update.update_id] = failures.get(update.update_id, 0) + 1
                if failures[update.update_id] < ATTEMPTS:
                    await _pause(stop, float(failures[update.update_id]))
                    break
                log.error("update %s failed %d times; skipping it", update.update_id, ATTEMPTS)
            failures.pop(update.update_id, None)
            offset = update.update_id + 1
            i += 1
            # Handling a report need not wait for anything (storage.sqlite_driver), so without this
            # the answers of a whole batch would only start going out once the batch is done.
            await asyncio.sleep(0)
        if not updates and interval:
            await _pause(stop, interval)


async def _in_one_transaction(group: Sequence[Any], handle: Callable[[Any], Awaitable[bool]], batch: Batch) -> int:
    """Handle the group (or, once GROUP_SECONDS have passed, its first updates) in one transaction: how
    many were handled and committed; 0 (and nothing of them recorded or answered) if any failed."""
    started, done = time.monotonic(), 0
    try:
        async with batch():
            for update in group:
                if not await handle(update):
                    raise _GroupFailed
                done += 1
                if time.monotonic() - started >= GROUP_SECONDS:
                    break
    except _GroupFailed:
        log.info("an update of a group of %d failed; handling them one by one", len(group))
        return 0
    except Exception:  # the commit itself: the same, one by one, where a failure is counted per update
        log.warning("committing a group of %d updates failed; handling them one by one", len(group), exc_info=True)
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
