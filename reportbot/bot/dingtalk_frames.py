"""DingTalk Stream-mode frames ↔ the neutral messages: pure translation, no I/O.

A spooled frame is ``{"topic": …, "messageId": …, "data": {…}}``: the Stream frame's topic and
messageId headers and its decoded data. The robot's message callback (topic /v1.0/im/bot/messages/get)
is read with the SDK's own ``ChatbotMessage``; a card button press (topic /v1.0/card/instances/callback)
with its ``CardCallbackMessage``. Cards are the robot's interactive cards in the ``StandardCard`` form
(钉钉 机器人发送互动卡片, 普通版): a header, a text, and a row of buttons per keyboard row, each button a
``request`` action whose id is the button's data; its press comes back as ``cardPrivateData.actionIds``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from dingtalk_stream import ChatbotMessage
from dingtalk_stream.card_callback import CardCallbackMessage

from reportbot.handlers.messages import Incoming, Keyboard, Press

CHANNEL = "dingtalk"
MESSAGE_TOPIC = ChatbotMessage.TOPIC  # /v1.0/im/bot/messages/get
CARD_TOPIC = "/v1.0/card/instances/callback"
Frame = dict[str, Any]

_MENTION = re.compile(r"^(?:\s*@\S+)+\s*")


def spooled(topic: str, message_id: str | None, data: dict[str, Any]) -> Frame:
    return {"topic": topic, "messageId": message_id, "data": data}


def delivery_key(frame: Frame) -> str | None:
    """A message by its msgId (DingTalk re-sends what was not acknowledged, with the same msgId); a card press
    by the Stream frame's messageId."""
    data = frame.get("data")
    if frame.get("topic") == MESSAGE_TOPIC and isinstance(data, dict) and data.get("msgId"):
        return f"{CHANNEL}:{data['msgId']}"
    if frame.get("messageId"):
        return f"{CHANNEL}:frame:{frame['messageId']}"
    return None


def incoming(frame: Frame, now: datetime) -> Incoming | None:
    """A text message to the robot (a private chat, or a group where it was @-mentioned) as an Incoming."""
    if frame.get("topic") != MESSAGE_TOPIC or not isinstance(frame.get("data"), dict):
        return None
    try:
        message = ChatbotMessage.from_dict(frame["data"])
    except (TypeError, ValueError, AttributeError, KeyError):  # a field of the wrong kind: nothing to handle
        return None
    sender = message.sender_staff_id
    if message.message_type != "text" or message.text is None or not isinstance(sender, str | int) or not sender:
        return None
    text = str(message.text.content or "")
    is_group = message.conversation_type == "2" and bool(message.conversation_id)
    return Incoming(
        channel=CHANNEL,
        sender_id=str(sender),
        chat_id=str(message.conversation_id) if is_group else str(sender),
        is_group=is_group,
        text=_MENTION.sub("", text, count=1).strip() if is_group else text.strip(),
        now=now,
        message_id=None,  # a robot cannot delete a member's message
        delivery_key=delivery_key(frame),
    )


def press(frame: Frame, now: datetime) -> Press | None:
    """A button pressed on one of the robot's cards: the card is its outTrackId (our cardBizId)."""
    data = frame.get("data")
    if frame.get("topic") != CARD_TOPIC or not isinstance(data, dict):
        return None
    try:
        callback = CardCallbackMessage.from_dict(data)
    except (TypeError, ValueError, AttributeError, KeyError):  # content or extension that is not JSON
        return None
    content = callback.content if isinstance(callback.content, dict) else {}
    private = content.get("cardPrivateData")
    actions = private.get("actionIds") if isinstance(private, dict) else None
    if not callback.user_id or not callback.card_instance_id or not isinstance(actions, list) or not actions:
        return None
    chat = data.get("openConversationId") or callback.user_id  # a card in a private chat: the person
    if not isinstance(chat, str | int) or not isinstance(actions[0], str | int):
        return None
    return Press(CHANNEL, str(callback.user_id), str(chat), str(callback.card_instance_id), str(actions[0]), now,
                 delivery_key=delivery_key(frame))


def card_data(text: str, buttons: Keyboard) -> dict[str, Any]:
    """A StandardCard: the first line as the title, the rest as plain text, a row of buttons per keyboard row."""
    title, _, rest = text.partition("\n")
    contents: list[dict[str, Any]] = [{"type": "text", "text": rest or title, "id": "text_body"}]
    for r, row in enumerate(buttons):
        contents.append({
            "type": "action",
            "id": f"action_{r}",
            "actions": [
                {"type": "button", "label": {"type": "text", "text": b.label, "id": f"label_{r}_{i}"},
                 "actionType": "request", "status": "primary" if r == 0 and i == 0 else "normal", "id": b.data}
                for i, b in enumerate(row)
            ],
        })
    return {"config": {"autoLayout": True, "enableForward": False},
            "header": {"title": {"type": "text", "text": title}}, "contents": contents}


def card_json(text: str, buttons: Keyboard) -> str:
    return json.dumps(card_data(text, buttons), ensure_ascii=False)


def text_param(text: str) -> str:
    """A robot's plain text message (msgKey sampleText): shown as written, a masked phone included."""
    return json.dumps({"content": text}, ensure_ascii=False)
