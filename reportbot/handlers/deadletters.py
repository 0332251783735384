"""Dead letters (SPEC §13): a message that fails while the database is healthy is set aside, never silently.

``set_aside`` records it (masked), tells its sender that it will be looked at and alerts the admins, in
one commit with those answers (the outbox): a crash cannot leave it recorded and unannounced. The same
message failing again counts one more failure and alerts the admins again; its sender is told once.

``reportbot deadletters retry`` marks letters for the running bot, whose sweeper hands them to
``retry_due``: each is handled again as the message it was (its channel, sender, chat, the time it
arrived, its delivery key), so its answers reach the sender as any answer does, once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime

from reportbot.handlers import delivery
from reportbot.handlers.context import Services, Unit
from reportbot.handlers.decide import handle_press
from reportbot.handlers.delivery import Queued
from reportbot.handlers.identity import CHANNEL_LABELS, namespaces
from reportbot.handlers.messages import Action, Incoming, Press, Send
from reportbot.handlers.router import handle_message
from reportbot.rules.model import Role
from reportbot.storage.deadletters import DeadLetter
from reportbot.storage.transport_tables import DeadLetterRow

log = logging.getLogger(__name__)
ERROR_MAX = 500

# What may not be handled again: a retried letter that meets an outage stays marked and waits for the next
# sweep; any other failure reopens it (``set_aside`` once more).
IsOutage = Callable[[BaseException], Awaitable[bool]]


def describe_error(svc: Services, exc: BaseException) -> str:
    """The error in one line, as it may be stored: no whole phone number in it."""
    words = " ".join(str(exc).split())
    return svc.scrub(f"{type(exc).__name__}: {words}" if words else type(exc).__name__)[:ERROR_MAX]


async def set_aside(svc: Services, item: Incoming | Press, exc: BaseException, now: datetime) -> list[Queued]:
    """Record ``item`` as a dead letter; its sender told (the first time), the admins alerted; the answers,
    stored, each naming its channel."""
    key = item.delivery_key or f"{item.chat_id}:{getattr(item, 'message_id', '') or item.now.isoformat()}"
    is_press = isinstance(item, Press)
    row = DeadLetterRow(
        channel=item.channel, key=key, kind="press" if is_press else "message", sender_id=item.sender_id,
        chat_id=item.chat_id, is_group=False if isinstance(item, Press) else item.is_group,
        message_id=item.message_id, text=item.data if isinstance(item, Press) else svc.scrub(item.text),
        error=describe_error(svc, exc), received_at=item.now, last_failed_at=now,
    )

    async def record() -> list[Action]:
        async with svc.db.uow() as uow:
            letter, new = await uow.dead_letters.set_aside(row)
            actions: list[Action] = []
            if new:  # a press is answered to the presser privately: the card's chat is the whole group
                told = item.sender_id if is_press else item.chat_id
                actions.append(Send(told, svc.render("dead_letter_told.j2", id=letter.id, kind=letter.kind)))
            actions += await _alert_admins(uow, svc, letter, new)
            await uow.commit()
        return actions

    answers = await delivery.with_stored_answers(svc.db, item.channel, now, record)
    log.error("set aside as dead letter: %s %s from %s (%s)", item.channel, key, item.sender_id, row.error)
    return [_on_channel(q, item.channel) for q in answers]  # each names its channel: an admin may be elsewhere


async def _alert_admins(uow: Unit, svc: Services, letter: DeadLetter, new: bool) -> list[Action]:
    """A private alert to every admin (managers when no admin is registered), on the letter's channel if
    they are on it, else on the first channel they are."""
    staff = await uow.staff.all()
    admins = [(s, ids) for s, ids in staff if s.role is Role.ADMIN] or [
        (s, ids) for s, ids in staff if s.role is Role.MANAGER
    ]
    text = svc.render("dead_letter_alert.j2", letter=letter, new=new,
                      channel=CHANNEL_LABELS.get(letter.channel, letter.channel))
    alerts: list[Action] = []
    for _, ids in admins:
        here = next((ids[n] for n in namespaces(letter.channel) if n in ids), None)
        if here is not None:
            alerts.append(Send(here, text))
        elif ids:
            channel, chat = min(ids.items())
            alerts.append(Send(chat, text, channel=channel))
    if not alerts:
        log.error("dead letter #%d: no admin or manager is registered to alert", letter.id)
    return alerts


def as_item(letter: DeadLetter) -> Incoming | Press:
    """The letter as the message it was, arriving when it first arrived (first come is by that time)."""
    if letter.kind == "press":
        return Press(letter.channel, letter.sender_id, letter.chat_id, letter.message_id or "", letter.text,
                     letter.received_at, delivery_key=letter.key)
    return Incoming(letter.channel, letter.sender_id, letter.chat_id, letter.is_group, letter.text,
                    letter.received_at, message_id=letter.message_id, delivery_key=letter.key)


async def request_retry(svc: Services, ids: list[int] | None) -> list[int]:
    """Mark open letters (these, or all) to be handled again by the running bot; the ids marked."""
    async with svc.db.uow() as uow:
        marked = await uow.dead_letters.request_retry(ids)
        await uow.commit()
    return marked


async def dismiss(svc: Services, letter_id: int, now: datetime) -> bool:
    async with svc.db.uow() as uow:
        closed = await uow.dead_letters.close(letter_id, "dismissed", now)
        await uow.commit()
    return closed


async def listed(svc: Services, *, everything: bool = False) -> list[DeadLetter]:
    async with svc.db.uow(write=False) as uow:
        return await uow.dead_letters.listed(only_open=not everything)


async def retry_due(
    svc: Services, now: datetime, channels: tuple[str, ...], is_outage: IsOutage
) -> list[tuple[str, list[Queued]]]:
    """Handle again the letters marked for retry on these channels: (channel, its answers) for each."""
    async with svc.db.uow(write=False) as uow:
        due = [d for d in await uow.dead_letters.due_retries() if d.channel in channels]
    answers: list[tuple[str, list[Queued]]] = []
    for letter in due:
        item = as_item(letter)
        try:
            handled = await delivery.handle_once(svc.db, item, _work(item, svc))
        except Exception as exc:
            if await is_outage(exc):
                raise  # the sweep fails as a whole; the letter stays marked for the next one
            answers.append((letter.channel, await set_aside(svc, item, exc, now)))
            continue
        async with svc.db.uow() as uow:
            await uow.dead_letters.close(letter.id, "done", now)
            await uow.commit()
        log.warning("dead letter #%d handled on retry%s", letter.id, " (already handled before)" * handled.duplicate)
        answers.append((letter.channel, [_on_channel(q, letter.channel) for q in handled.to_send]))
    return answers


def _work(item: Incoming | Press, svc: Services) -> Callable[[], Awaitable[list[Action]]]:
    if isinstance(item, Press):
        return lambda: handle_press(item, svc)
    return lambda: handle_message(item, svc)


def _on_channel(queued: Queued, channel: str) -> Queued:
    """An answer names the channel it goes out on (a Send naming none goes where the letter came from)."""
    action = queued.action
    if isinstance(action, Send) and action.channel is None:
        return replace(queued, action=replace(action, channel=channel))
    return queued
