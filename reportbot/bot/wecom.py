"""The WeCom (企业微信) transport: smart-robot callbacks in, neutral messages to the handlers, actions out.

A message callback answers through ``aibot_respond_msg`` on the callback's req_id while that
connection lives, and through ``aibot_send_msg`` otherwise (also for everything said to another
conversation: the card to the project's group, the canvasser told, reminders). A card button press
(``template_card_event``) updates the card in place with ``aibot_respond_update_msg`` on the event's
req_id, at once, because WeCom allows that only within 5 seconds. WeCom has no alert shown only to
the presser: a refusal goes to the presser privately; an alert beside a card update is the update.

WeCom hands a callback out once: the spool, the worker and the outbox are bot/chat_transport.py's.
Answers to a callback that waited are pushed (``aibot_send_msg``), not replied on its req_id, whose
window may be gone; a press that waited posts its card anew.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aibot import WSClient

from reportbot.bot import wecom_frames as frames
from reportbot.bot.chat_queues import Outgoing, RateLimit
from reportbot.bot.chat_transport import Frame, SpooledTransport
from reportbot.bot.settings import Settings
from reportbot.bot.wecom_link import LinkOptions, WeComLink
from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Action, Edit, Incoming, Press, Send
from reportbot.scheduler.clock import Clock

log = logging.getLogger(__name__)
CHANNEL = frames.CHANNEL
GATHERED_MOST = 10  # reports on one gathered card: its list (button_selection) holds at most 10 options


@dataclass(frozen=True)
class Reply:
    """Where an answer may go as a reply: the callback frame (its req_id) and the connection it came on."""

    client: WSClient
    frame: dict[str, Any]


def link_options(settings: Settings) -> LinkOptions:
    assert settings.wecom_bot_id and settings.wecom_bot_secret
    return LinkOptions(
        bot_id=settings.wecom_bot_id,
        secret=settings.wecom_bot_secret.get_secret_value(),
        ws_url=settings.wecom_ws_url,
        ca_file=settings.wecom_ca_file,
    )


class WeComTransport(SpooledTransport):
    channel = CHANNEL
    label = "WeCom"

    def __init__(
        self, services: Services, clock: Clock, options: LinkOptions, spool: Path, limit: RateLimit | None = None,
    ) -> None:
        super().__init__(services, clock, spool, limit or RateLimit(), gathered_most=GATHERED_MOST)
        self.link = WeComLink(options, self._take_message, self._take_event)

    def _take_message(self, client: WSClient, frame: dict[str, Any]) -> None:
        self.arrive("message", frame, client)

    def _take_event(self, client: WSClient, frame: dict[str, Any]) -> None:
        self.arrive("event", frame, client)

    async def run_link(self, stop: asyncio.Event) -> None:
        await self.link.run(stop)

    @property
    def connected(self) -> bool:
        return self.link.client is not None

    async def wait_connected(self) -> None:
        await self.link.ready()

    def delivery_key(self, frame: Frame) -> str | None:
        return frames.delivery_key(frame.get("body") or {})

    def parse(self, kind: str, frame: Frame, now: datetime) -> Incoming | Press | None:
        return frames.incoming(frame, now) if kind == "message" else frames.press(frame, now)

    def reply_to(self, context: object | None, frame: Frame) -> object | None:
        return Reply(context, frame) if isinstance(context, WSClient) else None

    async def on_press(self, press: Press, frame: Frame, context: object | None) -> None:
        """A card button press decides, once per msgid; the card is updated on the event's req_id at once."""
        handled = await delivery.handle_once(self.services.db, press, lambda: handle_press(press, self.services))
        edits = [q for q in handled.to_send if isinstance(q.action, Edit)]
        for queued in edits[:1]:
            assert isinstance(queued.action, Edit)
            if isinstance(context, WSClient):
                await self._update_card(context, frame, queued.action, queued.outbox_id)
            else:  # the press waited: its 5-second window to update the card is gone, the card is posted anew
                self._queue([delivery.Queued(_as_new_card(queued.action), queued.outbox_id)], None, None)
        alerts = [a.text for a in handled.alerts if a.text]
        if alerts and not edits:  # no alert only the presser sees: a refusal reaches them privately
            self.outbox.put(Outgoing(Send(press.sender_id, alerts[0])))
        self._queue([q for q in handled.to_send if not isinstance(q.action, Edit)], None, None)

    async def deliver(self, item: Outgoing) -> None:
        """A reply on the callback while its connection lives; a push otherwise."""
        send, reply = item.action, item.reply
        if isinstance(send, Edit):  # an update sent later than its press (5 seconds): a new card
            send = _as_new_card(send)
        client = self.link.client
        if isinstance(reply, Reply) and client is reply.client and client.is_connected:
            if send.buttons:
                card = frames.template_card(send.text, send.buttons, frames.new_task_id(), send.pick)
                await client.reply_template_card(reply.frame, card)
            else:
                await client.reply(reply.frame, frames.stream_body(send.text))
        else:
            client = await self.link.ready()
            if send.buttons:
                body = frames.card_body(send.text, send.buttons, frames.new_task_id(), send.pick)
                await client.send_message(send.chat_id, body)
            else:
                await client.send_message(send.chat_id, frames.markdown_body(send.text))

    async def _update_card(self, client: WSClient, frame: dict[str, Any], edit: Edit, outbox_id: int | None) -> None:
        """The pressed card, updated in place on the event's req_id; failing that, posted anew."""
        card = frames.template_card(edit.text, edit.buttons, edit.message_id, edit.pick)
        self.limit.record(edit.chat_id)
        try:
            await client.update_template_card(frame, card)
        except Exception as exc:  # noqa: BLE001 — the 5-second window passed or the connection went
            log.warning("WeCom: could not update card %s in place (%s); posting it again", edit.message_id, exc)
            self.put(Outgoing(_as_new_card(edit), None, outbox_id))
            return
        await self._journal(outbox_id, failed=False)


def _as_new_card(edit: Action) -> Send:
    """An update of a card that can no longer be updated in place (WeCom allows 5 seconds): a new card."""
    assert isinstance(edit, Edit)
    return Send(edit.chat_id, edit.text, edit.buttons, pick=edit.pick)


def build(services: Services, clock: Clock, settings: Settings) -> WeComTransport:
    return WeComTransport(services, clock, link_options(settings), settings.spool_path("wecom"))
