"""The WeCom (企业微信) transport: smart-robot callbacks in, neutral messages to the handlers, actions out.

A message callback answers through ``aibot_respond_msg`` on the callback's req_id while that
connection lives, and through ``aibot_send_msg`` otherwise (also for everything said to another
conversation: the card to the project's group, the canvasser told, reminders). A card button press
(``template_card_event``) updates the card in place with ``aibot_respond_update_msg`` on the event's
req_id, at once, because WeCom allows that only within 5 seconds. WeCom has no alert shown only to
the presser: a refusal goes to the presser privately; an alert beside a card update is the update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aibot import WSClient

from reportbot.bot import wecom_frames as frames
from reportbot.bot.settings import Settings
from reportbot.bot.wecom_link import LinkOptions, WeComLink
from reportbot.bot.wecom_queue import ChatQueues, RateLimit
from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Action, Edit, Send
from reportbot.handlers.router import handle_message
from reportbot.scheduler.clock import Clock

log = logging.getLogger(__name__)
CHANNEL = frames.CHANNEL


@dataclass(frozen=True)
class Reply:
    """Where an answer may go as a reply: the callback frame (its req_id) and the connection it came on."""

    client: WSClient
    frame: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    send: Send
    reply: Reply | None = None
    outbox_id: int | None = None  # the stored answer (handlers.delivery), marked sent once it went out

    @property
    def chat_id(self) -> str:
        return self.send.chat_id


def link_options(settings: Settings) -> LinkOptions:
    assert settings.wecom_bot_id and settings.wecom_bot_secret
    return LinkOptions(
        bot_id=settings.wecom_bot_id,
        secret=settings.wecom_bot_secret.get_secret_value(),
        ws_url=settings.wecom_ws_url,
        ca_file=settings.wecom_ca_file,
    )


class WeComTransport:
    def __init__(self, services: Services, clock: Clock, options: LinkOptions, limit: RateLimit | None = None) -> None:
        self.services = services
        self.clock = clock
        self.limit = limit or RateLimit()
        self.link = WeComLink(options, self._take_message, self._take_event)
        self.outbox: ChatQueues[Outgoing] = ChatQueues(self._deliver, self.limit, self._wait_connected, self._gave_up)
        self._inbox: asyncio.Queue[tuple[str, WSClient, dict[str, Any]]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- in: callbacks are taken in arrival order, one at a time (as the Telegram transport does) --

    def _take_message(self, client: WSClient, frame: dict[str, Any]) -> None:
        self._inbox.put_nowait(("message", client, frame))

    def _take_event(self, client: WSClient, frame: dict[str, Any]) -> None:
        self._inbox.put_nowait(("event", client, frame))

    async def run(self, stop: asyncio.Event) -> None:
        """The connection and the callback worker until ``stop``; then what is queued goes out while connected."""
        # What was left unsent is queued before any new callback is handled: a callback handled while
        # the stored answers were being read had its answer read too, and sent twice.
        await self.resend_unsent()
        worker = asyncio.create_task(self._work(), name="wecom:inbox")
        link_stop = asyncio.Event()
        link = asyncio.create_task(self.link.run(link_stop), name="wecom:link")
        try:
            await stop.wait()
        finally:
            worker.cancel()  # a callback cut short commits nothing: WeCom sends it again
            await asyncio.gather(worker, return_exceptions=True)
            # Stored answers not sent now are sent at the next start; without a connection, none can be.
            await self.outbox.close(timeout=10.0 if self.link.client is not None else 0.0)
            link_stop.set()
            await link

    async def _work(self) -> None:
        while True:
            kind, client, frame = await self._inbox.get()
            try:
                if kind == "message":
                    await self.on_message(client, frame)
                else:
                    await self.on_event(client, frame)
            except Exception:  # one bad callback must not stop the others
                log.exception("WeCom callback failed: %s", str(frame)[:300])

    async def on_message(self, client: WSClient, frame: dict[str, Any]) -> None:
        """A message callback: to the router, once per msgid; the answers to the outbox (replies on it)."""
        incoming = frames.incoming(frame, self.clock.now())
        if incoming is None:
            return
        handled = await delivery.handle_once(
            self.services.db, incoming, lambda: handle_message(incoming, self.services)
        )
        self._queue(handled.to_send, Reply(client, frame), incoming.chat_id)

    async def on_event(self, client: WSClient, frame: dict[str, Any]) -> None:
        """An event callback: a card button press decides, once per msgid; other events need no answer."""
        press = frames.press(frame, self.clock.now())
        if press is None:
            return
        handled = await delivery.handle_once(self.services.db, press, lambda: handle_press(press, self.services))
        edits = [q for q in handled.to_send if isinstance(q.action, Edit)]
        for queued in edits[:1]:
            assert isinstance(queued.action, Edit)
            await self._update_card(client, frame, queued.action, queued.outbox_id)
        alerts = [a.text for a in handled.alerts if a.text]
        if alerts and not edits:  # no alert only the presser sees: a refusal reaches them privately
            self.outbox.put(Outgoing(Send(press.sender_id, alerts[0])))
        self._queue([q for q in handled.to_send if not isinstance(q.action, Edit)], None, None)

    async def resend_unsent(self) -> None:
        """Answers recorded before a crash or stop but not known to have gone out are sent first."""
        pending = await delivery.unsent(self.services.db, CHANNEL)
        if pending:
            log.warning("WeCom: sending %d stored answers left unsent", len(pending))
        for queued in pending:
            action = queued.action
            if isinstance(action, Edit):  # the 5-second window of its press is long gone: post the card anew
                action = Send(action.chat_id, action.text, action.buttons)
            self._queue([delivery.Queued(action, queued.outbox_id)], None, None)

    # -- out --

    def dispatch(self, actions: Sequence[Action | delivery.Queued]) -> None:
        """Actions with no callback to answer (the sweeper's reminders and digests)."""
        self._queue(actions, None, None)

    def _queue(self, answers: Sequence[Action | delivery.Queued], reply: Reply | None, reply_chat: str | None) -> None:
        for answer in answers:
            queued = answer if isinstance(answer, delivery.Queued) else delivery.Queued(answer)
            action = queued.action
            if isinstance(action, Send):
                as_reply = reply if reply is not None and action.chat_id == reply_chat else None
                self.outbox.put(Outgoing(action, as_reply, queued.outbox_id))
            elif queued.outbox_id is not None:  # a robot cannot delete a member's message: nothing to send
                self._spawn(self._journal(queued.outbox_id, failed=False))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _journal(self, outbox_id: int | None, *, failed: bool) -> None:
        """Mark a stored answer sent (or failed for good); a journal error never sends a message twice."""
        if outbox_id is None:
            return
        try:
            await delivery.record_progress(self.services.db, sending=set(), done={outbox_id: failed}, at=self.clock.now())
        except Exception:  # at worst the answer is sent again after a restart
            log.exception("WeCom: could not mark answer %s as sent", outbox_id)

    async def _gave_up(self, item: Outgoing) -> None:
        await self._journal(item.outbox_id, failed=True)

    async def _wait_connected(self) -> None:
        await self.link.ready()

    async def _deliver(self, item: Outgoing) -> None:
        """A reply on the callback while its connection lives; a push otherwise. Then marked sent."""
        send, reply = item.send, item.reply
        client = self.link.client
        if reply is not None and client is reply.client and client.is_connected:
            if send.buttons:
                card = frames.template_card(send.text, send.buttons, frames.new_task_id())
                await client.reply_template_card(reply.frame, card)
            else:
                await client.reply(reply.frame, frames.stream_body(send.text))
        else:
            client = await self.link.ready()
            if send.buttons:
                await client.send_message(send.chat_id, frames.card_body(send.text, send.buttons, frames.new_task_id()))
            else:
                await client.send_message(send.chat_id, frames.markdown_body(send.text))
        await self._journal(item.outbox_id, failed=False)

    async def _update_card(self, client: WSClient, frame: dict[str, Any], edit: Edit, outbox_id: int | None) -> None:
        """The pressed card, updated in place on the event's req_id; failing that, posted anew."""
        card = frames.template_card(edit.text, edit.buttons, edit.message_id)
        self.limit.record(edit.chat_id)
        try:
            await client.update_template_card(frame, card)
        except Exception as exc:  # noqa: BLE001 — the 5-second window passed or the connection went
            log.warning("WeCom: could not update card %s in place (%s); posting it again", edit.message_id, exc)
            self.outbox.put(Outgoing(Send(edit.chat_id, edit.text, edit.buttons), None, outbox_id))
            return
        await self._journal(outbox_id, failed=False)


def build(services: Services, clock: Clock, settings: Settings) -> WeComTransport:
    return WeComTransport(services, clock, link_options(settings))
