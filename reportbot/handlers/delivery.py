"""At least once in, exactly once recorded: each incoming message or press is handled once per key.

Telegram hands an update out again when the bot stopped before confirming it (WeCom resends a
callback likewise). The channel's id for the message is the delivery key. The key, everything the use
case records and the answers it is owed are committed in ONE transaction (``Database.enclosing``):

* a second delivery of a key finds it taken and does nothing: nothing recorded twice, no second answer;
* a crash before the commit leaves nothing, and the redelivery is handled as new;
* a crash after the commit leaves the answers in the outbox, sent on the next start (``unsent``);
* a transaction lost to a concurrent writer (a report that lost the race for its customer on
  PostgreSQL: ``TransactionLost``) is rolled back whole and the delivery handled again.

The transports then send from the outbox and note each answer's progress (``bot.journal``, folded
in here by ``record_progress``). A transport hands its sends to ``Database.after_commit``: inside a
``batch`` (several deliveries, one commit, as the polling loop handles a fetched batch of updates) they
go out once the whole batch has committed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reportbot.handlers.messages import (
    Action,
    Alert,
    Button,
    Delete,
    Edit,
    Incoming,
    Keyboard,
    Pick,
    Press,
    Send,
)
from reportbot.storage.db import Database
from reportbot.storage.uow import TransactionLost, UnitOfWork

Durable = Send | Edit | Delete
# Telegram keeps an unconfirmed update for 24 hours; a key is kept a week, then forgotten.
KEEP = timedelta(days=7)
# A delivery whose transaction was lost to a concurrent writer is handled again, this often in all: the
# second time finds the winner committed, so a third is only for a race lost twice over.
LOST_ATTEMPTS = 3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Queued:
    """An answer to send; ``outbox_id`` None when it was not stored (no delivery key, or not storable)."""

    action: Action
    outbox_id: int | None = None
    was_in_flight: bool = False  # recovered in state 'sending': it may have arrived already


@dataclass(frozen=True)
class Handled:
    duplicate: bool  # the key was handled before: nothing was done now
    answers: list[Queued]

    @property
    def alerts(self) -> list[Alert]:
        return [q.action for q in self.answers if isinstance(q.action, Alert)]

    @property
    def to_send(self) -> list[Queued]:
        return [q for q in self.answers if not isinstance(q.action, Alert)]


async def handle_once(
    db: Database, item: Incoming | Press, work: Callable[[], Awaitable[list[Action]]]
) -> Handled:
    """Run ``work`` for ``item`` unless its delivery key was handled before; store its answers with it."""
    if item.delivery_key is None:
        return Handled(False, [Queued(a) for a in await work()])
    batched = db.enclosing_unit()
    if batched is not None:  # inside batch(): it commits, for all its deliveries at once
        return await _handle(batched, item, item.delivery_key, work)
    attempt = 1
    while True:
        try:
            async with db.enclosing() as uow:
                handled = await _handle(uow, item, item.delivery_key, work)
                if not handled.duplicate:
                    await uow.commit()
            return handled
        except TransactionLost:
            # A report lost the race for its customer on PostgreSQL, where the report path takes no
            # savepoint (handlers.report): all of it was rolled back. Again, from the key on: now the
            # winner is committed, and the report is answered as the duplicate it is.
            if attempt == LOST_ATTEMPTS:
                raise
            attempt += 1
            log.info("the transaction of %s was lost to a concurrent writer; handling it again", item.delivery_key)


async def _handle(
    uow: UnitOfWork, item: Incoming | Press, key: str, work: Callable[[], Awaitable[list[Action]]]
) -> Handled:
    delivery_id = await uow.deliveries.claim(item.channel, key, item.now)
    if delivery_id is None:
        return Handled(True, [])
    return Handled(False, await _store(uow, delivery_id, item.channel, item.now, await work()))


@asynccontextmanager
async def batch(db: Database) -> AsyncIterator[None]:
    """Handle several deliveries in ONE transaction: one commit (and on SQLite one write lock) for all.

    Each ``handle_once`` inside records its key, its work and its answers in this transaction, in the
    order called: first come stays first. It commits when the block ends; if the block raises, none
    of them is recorded and nothing handed to ``Database.after_commit`` (their answers) runs, so the
    caller may handle them again, one by one.
    """
    async with db.enclosing() as uow:
        yield
        await uow.commit()


async def with_stored_answers(
    db: Database, channel: str, now: datetime, work: Callable[[], Awaitable[list[Action]]]
) -> list[Queued]:
    """Run ``work`` (e.g. claiming due reminders) and store the answers it owes in the same commit.

    The sweep uses it: a reminder is claimed (marked sent) and its message stored together, so a crash
    between the two can no longer lose it. ``channel``: for answers that name none.
    """
    async with db.enclosing() as uow:
        answers = await _store(uow, None, channel, now, await work())
        await uow.commit()
    return answers


async def _store(uow: UnitOfWork, delivery_id: int | None, channel: str, now: datetime,
                 actions: list[Action]) -> list[Queued]:
    durable = [(i, a) for i, a in enumerate(actions)
               if isinstance(a, Durable) and not (isinstance(a, Send) and a.ephemeral)]
    ids = await uow.deliveries.queue(
        delivery_id, [((a.channel if isinstance(a, Send) else None) or channel, a.chat_id, encode(a))
                      for _, a in durable], now
    )
    stored = {i: outbox_id for (i, _), outbox_id in zip(durable, ids, strict=True)}
    return [Queued(a, stored.get(i)) for i, a in enumerate(actions)]


async def unsent(db: Database, channel: str, created_before: datetime | None = None) -> list[Queued]:
    """Answers stored but not known to be sent (a crash, a stop with a full queue), oldest first;
    ``created_before``: only those stored before then (another process's, left for this one to send)."""
    async with db.uow(write=False) as uow:
        entries = await uow.deliveries.unsent(channel, created_before)
    return [Queued(decode(e.payload), e.id, e.was_in_flight) for e in entries]


async def record_progress(db: Database, *, sending: set[int], done: dict[int, bool], at: datetime) -> None:
    """Answers started (``sending``) and finished (``done``: id → failed for good), in one commit."""
    if not sending and not done:
        return
    async with db.uow() as uow:
        await uow.deliveries.record_progress(sending=sending, done=done, at=at)
        await uow.commit()


async def prune(db: Database, now: datetime, keep: timedelta = KEEP) -> int:
    """Drop delivery keys and sent answers older than ``keep``; the number of keys dropped."""
    async with db.uow() as uow:
        dropped = await uow.deliveries.prune(now - keep)
        await uow.commit()
    return dropped


def encode(action: Durable) -> str:
    body: dict[str, object]
    match action:
        case Send(chat_id, text, buttons, channel, _, card_of, pick):
            body = {"t": "send", "chat": chat_id, "text": text, "buttons": _buttons(buttons), "channel": channel}
            if card_of is not None:
                body["card"] = card_of
        case Edit(chat_id, message_id, text, buttons, pick):
            body = {"t": "edit", "chat": chat_id, "msg": message_id, "text": text, "buttons": _buttons(buttons)}
        case Delete(chat_id, message_id):
            body = {"t": "delete", "chat": chat_id, "msg": message_id}
            pick = None
    if pick is not None:
        body["pick"] = [pick.title, [list(option) for option in pick.options]]
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def decode(payload: str) -> Durable:
    """A stored answer (rows written before a key existed decode without it: no card, no list)."""
    body = json.loads(payload)
    pick = _pick(body.get("pick"))
    match body["t"]:
        case "send":
            return Send(body["chat"], body["text"], _keyboard(body["buttons"]), body["channel"],
                        card_of=body.get("card"), pick=pick)
        case "edit":
            return Edit(body["chat"], body["msg"], body["text"], _keyboard(body["buttons"]), pick)
        case "delete":
            return Delete(body["chat"], body["msg"])
    raise ValueError(f"unknown outbox payload {body['t']!r}")


def _pick(stored: list[Any] | None) -> Pick | None:
    """``encode``'s ``[title, [[id, label], ...]]`` as json.loads gives it back (its items untyped: Any)."""
    if stored is None:
        return None
    title, options = stored
    return Pick(str(title), tuple((str(o[0]), str(o[1])) for o in options))


def _buttons(keyboard: Keyboard) -> list[list[list[str]]]:
    return [[[b.label, b.data] for b in row] for row in keyboard]


def _keyboard(rows: list[list[list[str]]]) -> Keyboard:
    return tuple(tuple(Button(label, data) for label, data in row) for row in rows)
