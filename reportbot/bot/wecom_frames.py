"""WeCom long-connection frames ↔ the neutral messages: pure translation, no I/O, no SDK.

Field names follow WeCom's document 智能机器人长连接 (developer.work.weixin.qq.com/document/path/101463)
and the message/event bodies it points to (接收消息, 接收事件, 模板卡片类型).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from reportbot.handlers.messages import PICKED, Incoming, Keyboard, Pick, Press

CHANNEL = "wecom"
Frame = dict[str, Any]
PICK_KEY = "report"  # the question_key of a gathered card's list (its button_selection)

# In a group the robot only hears messages that @-mention it; the text starts with that mention.
_MENTION = re.compile(r"^(?:\s*@\S+)+\s*")
# WeCom renders replies and pushes as markdown: these would turn a masked phone (138***88888) into emphasis.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~])")
_LINE_START = re.compile(r"^([#>+-])", re.MULTILINE)


def strip_mention(text: str) -> str:
    """'@报备助手 /who 138***88888' → '/who 138***88888'."""
    return _MENTION.sub("", text, count=1)


def delivery_key(body: dict[str, Any]) -> str | None:
    """WeCom's documents say to de-duplicate callbacks on msgid."""
    msgid = body.get("msgid")
    return f"{CHANNEL}:{msgid}" if msgid else None


def _chat(body: dict[str, Any], sender: str) -> tuple[str, bool]:
    """(chat id, is group): a group is its chatid; a private chat is the person's userid."""
    if body.get("chattype") == "group" and body.get("chatid"):
        return str(body["chatid"]), True
    return sender, False


def incoming(frame: Frame, now: datetime) -> Incoming | None:
    """A text message callback (aibot_msg_callback, msgtype text) as an Incoming; None for anything else."""
    body = frame.get("body") or {}
    sender = (body.get("from") or {}).get("userid")
    text = (body.get("text") or {}).get("content")
    if body.get("msgtype") != "text" or not sender or not isinstance(text, str):
        return None
    chat, is_group = _chat(body, str(sender))
    return Incoming(
        channel=CHANNEL,
        sender_id=str(sender),
        chat_id=chat,
        is_group=is_group,
        text=strip_mention(text) if is_group else text,
        now=now,
        message_id=None,  # the robot cannot delete a member's message, so no Delete is asked for
        delivery_key=delivery_key(body),
    )


def press(frame: Frame, now: datetime) -> Press | None:
    """A template_card_event (a card button pressed) as a Press: the card is its task_id, the button its key."""
    body = frame.get("body") or {}
    event = body.get("event") or {}
    sender = (body.get("from") or {}).get("userid")
    if event.get("eventtype") != "template_card_event" or not sender:
        return None
    # The document nests the details under event.template_card_event; SDK 1.0.2's types show them flat.
    detail = event.get("template_card_event") or event
    task_id, key = detail.get("task_id"), detail.get("event_key")
    if not task_id:
        return None
    chat, _ = _chat(body, str(sender))
    data = str(key or "")
    if PICKED in data:  # a gathered card's 确认所选 / 驳回所选: the report picked in its list, "" when none was
        data = data.replace(PICKED, _picked(detail))
    return Press(CHANNEL, str(sender), chat, str(task_id), data, now, delivery_key=delivery_key(body))


def _picked(detail: dict[str, Any]) -> str:
    """The option chosen in the card's list (接收事件: selected_items.selected_item[].option_ids.option_id)."""
    items = (detail.get("selected_items") or {}).get("selected_item") or []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("question_key") == PICK_KEY:
            chosen = (item.get("option_ids") or {}).get("option_id") or []
            if isinstance(chosen, list) and chosen and str(chosen[0]).isdigit():
                return str(chosen[0])
    return ""


def markdown(text: str) -> str:
    """Plain template text as WeCom markdown that shows exactly that text."""
    return _LINE_START.sub(r"\\\1", _MARKDOWN.sub(r"\\\1", text))


def new_task_id() -> str:
    """A card's task_id: unique per robot, letters, digits and _-@ only, ≤ 128 bytes."""
    return f"rb-{secrets.token_hex(12)}"


def template_card(text: str, buttons: Keyboard, task_id: str, pick: Pick | None = None) -> dict[str, Any]:
    """A 按钮交互型 (button_interaction) card: the first line as title, the rest below, one button per choice
    (at most 6), and a list to pick from (``button_selection``, at most 10 options) when there is one."""
    title, _, rest = text.partition("\n")
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": title},
        "sub_title_text": rest,
        "task_id": task_id,
    }
    if pick is not None:
        card["button_selection"] = {
            "question_key": PICK_KEY,
            "title": pick.title,
            "option_list": [{"id": ident, "text": label} for ident, label in pick.options],
        }
    flat = [button for row in buttons for button in row]
    if flat:
        # style 1 is the highlighted button (确认); the others plain. Keys ≤ 1024 bytes; ours ≤ 64.
        card["button_list"] = [
            {"text": b.label, "style": 1 if i == 0 else 2, "key": b.data} for i, b in enumerate(flat)
        ]
    return card


def stream_body(text: str) -> dict[str, Any]:
    """A finished reply (aibot_respond_msg, msgtype stream) carrying the whole text at once."""
    return {"msgtype": "stream", "stream": {"id": new_task_id(), "finish": True, "content": markdown(text)}}


def markdown_body(text: str) -> dict[str, Any]:
    """A push (aibot_send_msg) of text: markdown is what a push may carry besides cards."""
    return {"msgtype": "markdown", "markdown": {"content": markdown(text)}}


def card_body(text: str, buttons: Keyboard, task_id: str, pick: Pick | None = None) -> dict[str, Any]:
    return {"msgtype": "template_card", "template_card": template_card(text, buttons, task_id, pick)}
