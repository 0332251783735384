"""Feishu (飞书) events ↔ the neutral messages: pure translation, no I/O.

A spooled frame is the event as Feishu sends it (schema 2.0: ``header`` + ``event``). A text message to the
bot is ``im.message.receive_v1``; a button pressed on one of its message cards is ``card.action.trigger``
(both over the long connection). Cards are message cards (JSON 1.0): a header, a plain-text body and a
row of buttons per keyboard row, each button's ``value`` carrying its data; ``update_multi`` so that the
card updated after a decision is what everyone in the group sees.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from reportbot.handlers.messages import Incoming, Keyboard, Press

CHANNEL = "feishu"
MESSAGE_EVENT = "im.message.receive_v1"
CARD_EVENT = "card.action.trigger"
Frame = dict[str, Any]

_MENTION = re.compile(r"^(?:\s*@\S+)+\s*")


def _d(value: object) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (a hostile or broken event must not raise)."""
    return value if isinstance(value, dict) else {}


def event_type(frame: Frame) -> str:
    return str(_d(frame.get("header")).get("event_type") or "")


def delivery_key(frame: Frame) -> str | None:
    """A message by its message_id (Feishu may deliver an event more than once); a press by its event_id."""
    message_id = _d(_d(frame.get("event")).get("message")).get("message_id")
    if event_type(frame) == MESSAGE_EVENT and message_id:
        return f"{CHANNEL}:{message_id}"
    event_id = _d(frame.get("header")).get("event_id")
    return f"{CHANNEL}:event:{event_id}" if event_id else None


def incoming(frame: Frame, now: datetime) -> Incoming | None:
    """A text message (a private chat, or a group where the bot was @-mentioned) as an Incoming."""
    if event_type(frame) != MESSAGE_EVENT:
        return None
    event = _d(frame.get("event"))
    message = _d(event.get("message"))
    sender = _d(_d(event.get("sender")).get("sender_id")).get("open_id")
    content = message.get("content")
    if message.get("message_type") != "text" or not sender or not isinstance(content, str):
        return None
    try:
        text = str(_d(json.loads(content)).get("text") or "")
    except ValueError:
        return None
    is_group = message.get("chat_type") == "group" and bool(message.get("chat_id"))
    return Incoming(
        channel=CHANNEL,
        sender_id=str(sender),
        chat_id=str(message["chat_id"]) if is_group else str(sender),
        is_group=is_group,
        # in a group the text starts with the bot's mention, written "@_user_1"
        text=_MENTION.sub("", text, count=1).strip() if is_group else text.strip(),
        now=now,
        message_id=None,  # a bot may recall only its own messages
        delivery_key=delivery_key(frame),
    )


def press(frame: Frame, now: datetime) -> Press | None:
    """A card button pressed: the card is its open_message_id, the data the button's value."""
    if event_type(frame) != CARD_EVENT:
        return None
    event = _d(frame.get("event"))
    presser = _d(event.get("operator")).get("open_id")
    context = _d(event.get("context"))
    value = _d(event.get("action")).get("value")
    data = value.get("d") if isinstance(value, dict) else None
    if not presser or not context.get("open_message_id") or not isinstance(data, str):
        return None
    chat = context.get("open_chat_id") or presser
    return Press(CHANNEL, str(presser), str(chat), str(context["open_message_id"]), data, now,
                 delivery_key=delivery_key(frame))


def card(text: str, buttons: Keyboard) -> dict[str, Any]:
    """A message card: the first line as the title, the rest as plain text, a row of buttons per keyboard row."""
    title, _, rest = text.partition("\n")
    elements: list[dict[str, Any]] = [{"tag": "div", "text": {"tag": "plain_text", "content": rest or title}}]
    for r, row in enumerate(buttons):
        elements.append({"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": b.label},
             "type": "primary" if r == 0 and i == 0 else "default", "value": {"d": b.data}}
            for i, b in enumerate(row)
        ]})
    return {"config": {"wide_screen_mode": True, "update_multi": True},
            "header": {"title": {"tag": "plain_text", "content": title}}, "elements": elements}


def receive_id_type(chat_id: str) -> str:
    """A group is its chat_id (oc_…); a person their open_id (ou_…)."""
    return "chat_id" if chat_id.startswith("oc_") else "open_id"
