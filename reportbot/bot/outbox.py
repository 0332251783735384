"""Outgoing messages, one line per chat: a rate-limited group never holds up a private reply.

Telegram allows about 30 messages a second per bot and 20 a minute per group. The rate limiter
makes a send wait; if the update handler awaited that wait, every other person's update would wait
behind it. So handlers only enqueue, and each chat has its own worker that sends in order (bot/lines.py).
When a group's line falls behind its limit, the report cards waiting in it go out as one gathered card
(``gather``: handlers.cards.gather); should that fail (the database away), they go out one by one.

Answers stored in the database outbox (``handlers.delivery``) carry their row id; the worker then
journals each step: the previous answer's outcome and "sending" for the next one in one commit, so
that after a crash only the one message a chat had in flight is in doubt (for a gathered card, the
answers it stands for).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from reportbot.bot.lines import Gathering, Lines, send_taken
from reportbot.handlers.messages import Action, Alert, Delete, Edit, Send

log = logging.getLogger(__name__)

Sender = Callable[[Action], Awaitable[None]]
Gather = Callable[[str, list[int]], Awaitable[Send]]  # (chat, report ids) → the gathered card


class Journal(Protocol):
    async def __call__(self, *, done: Sequence[int], failed: bool, sending: Sequence[int]) -> None: ...


@dataclass(frozen=True)
class Item:
    action: Action
    outbox_id: int | None = None
    in_doubt: bool = False  # recovered in flight after a crash: it may have arrived already
    also: tuple[int, ...] = ()  # a gathered card: the other stored answers (cards) it stands for

    @property
    def outbox_ids(self) -> list[int]:
        return ([] if self.outbox_id is None else [self.outbox_id]) + list(self.also)


def _card_of(item: Item) -> int | None:
    return item.action.card_of if isinstance(item.action, Send) else None


class Outbox:
    def __init__(
        self, send: Sender, journal: Journal | None = None, *, gather: Gather | None = None,
        gathering: Gathering | None = None,
    ) -> None:
        self._send = send
        self._journal = journal
        self._gather = gather
        self._lines: Lines[Item] = Lines(self._work, name="outbox", card_of=_card_of, in_doubt=lambda i: i.in_doubt,
                                         gathering=gathering if gather is not None else None)
        # Per chat: the last stored send's answers and whether it failed, journaled with the next step.
        self._unjournaled: dict[str, tuple[list[int], bool]] = {}
        # Stored answers this process has taken on and not yet seen folded into the outbox table as sent or
        # failed: queued, being sent, or sent with only the journal knowing. After an outage, a stored answer
        # not among them was left behind (transport._after_outage).
        self._held: set[int] = set()

    @property
    def gathering(self) -> Gathering | None:
        return self._lines.gathering

    @gathering.setter
    def gathering(self, gathering: Gathering | None) -> None:
        """When the group limit is not Telegram's own (a test, a benchmark)."""
        self._lines.gathering = gathering

    def put(self, action: Send | Edit | Delete | Action, outbox_id: int | None = None, *, in_doubt: bool = False) -> None:
        """Queue an action behind the earlier ones of the same chat; returns at once."""
        assert not isinstance(action, Alert), "an alert answers a press at once; it is never queued"
        self._lines.put(action.chat_id, Item(action, outbox_id, in_doubt))
        if outbox_id is not None:
            self._held.add(outbox_id)

    def holds(self, outbox_id: int | None) -> bool:
        return outbox_id in self._held

    def forget(self, outbox_ids: set[int]) -> None:
        """These stored answers are recorded as finished in the outbox table."""
        self._held -= outbox_ids

    async def _work(self, chat: str, items: list[Item], gathered: bool) -> None:
        await send_taken(chat, items, gathered, self._combine, partial(self._one, chat))

    async def _combine(self, chat: str, items: list[Item]) -> Item:
        """The waiting cards as one gathered card, standing for every stored answer among them."""
        assert self._gather is not None
        card = await self._gather(chat, [_card_of(item) or 0 for item in items])
        ids = [outbox_id for item in items for outbox_id in item.outbox_ids]
        return Item(card, ids[0] if ids else None, also=tuple(ids[1:]))

    async def _one(self, chat: str, item: Item) -> None:
        """Send one message, journaling the stored answers it stands for."""
        ids = item.outbox_ids
        try:
            before = self._unjournaled.pop(chat, None)
            if ids or before is not None:
                await self._step(before, ids)
        except Exception:
            log.exception("journaling the outbox of chat %s failed", chat)
        failed = False
        try:
            await self._send(item.action)
        except Exception:  # one failed message must not stop the chat's line
            failed = True
            log.exception("sending to chat %s failed", chat)
        if not ids:
            return
        if self._lines.waiting(chat):  # folded into the next step's write
            self._unjournaled[chat] = (ids, failed)
            return
        try:
            await self._step((ids, failed), [])
        except Exception:
            log.exception("journaling the outbox of chat %s failed", chat)

    async def _step(self, done: tuple[list[int], bool] | None, sending: list[int]) -> None:
        if self._journal is None:
            return
        await self._journal(done=done[0] if done else (), failed=done[1] if done else False, sending=sending)

    async def drain(self) -> None:
        """Wait until everything queued so far has been sent (or has failed)."""
        await self._lines.drain()

    async def close(self, timeout: float | None = 30.0) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop the workers."""
        if left := await self._lines.close(timeout):
            log.warning("stopping with %d messages unsent", left)
