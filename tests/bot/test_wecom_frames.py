"""WeCom frames ↔ neutral messages: who wrote where, the @-mention, card presses, cards and markdown."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from reportbot.bot import wecom_frames as frames
from reportbot.handlers.cards import decision_buttons, reason_buttons
from reportbot.handlers.messages import Button
from tests.fakes.wecom_server import _unescape

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def text_callback(**body: object) -> dict:
    base = {"msgid": "m1", "aibotid": "bot", "chattype": "single", "from": {"userid": "lisi"}, "msgtype": "text",
            "text": {"content": "/mine"}}
    return {"cmd": "aibot_msg_callback", "headers": {"req_id": "r1"}, "body": {**base, **body}}


def test_a_private_message_comes_from_the_userid_in_their_own_chat_keyed_by_msgid() -> None:
    msg = frames.incoming(text_callback(), NOW)
    assert msg is not None
    assert (msg.channel, msg.sender_id, msg.chat_id, msg.is_group, msg.text) == ("wecom", "lisi", "lisi", False, "/mine")
    assert msg.delivery_key == "wecom:m1" and msg.now == NOW
    assert msg.message_id is None  # the robot cannot delete a member's message


def test_a_group_message_belongs_to_the_group_and_loses_its_mention() -> None:
    msg = frames.incoming(text_callback(chattype="group", chatid="wrGROUP", text={"content": "@报备助手 /who 138***88888"}), NOW)
    assert msg is not None and msg.is_group and msg.chat_id == "wrGROUP" and msg.text == "/who 138***88888"


def test_only_the_leading_mention_goes_and_a_multi_line_report_keeps_its_lines() -> None:
    assert frames.strip_mention("@报备助手\u2005报备\n客户：张先生 @某人") == "报备\n客户：张先生 @某人"
    assert frames.strip_mention("报备 张先生") == "报备 张先生"


def test_what_is_not_a_text_message_from_a_member_is_not_a_message() -> None:
    assert frames.incoming(text_callback(msgtype="image", image={"url": "u"}), NOW) is None
    assert frames.incoming(text_callback(**{"from": {}}), NOW) is None


def card_event(detail: dict, nested: bool = True, **body: object) -> dict:
    event = {"eventtype": "template_card_event", **({"template_card_event": detail} if nested else detail)}
    base = {"msgid": "e1", "aibotid": "bot", "chattype": "group", "chatid": "wrGROUP", "from": {"userid": "zhaomin"},
            "msgtype": "event", "event": event}
    return {"cmd": "aibot_event_callback", "headers": {"req_id": "r2"}, "body": {**base, **body}}


def test_a_button_press_is_a_press_on_the_card_named_by_its_task_id() -> None:
    detail = {"card_type": "button_interaction", "event_key": "rb1:c:7", "task_id": "rb-abc"}
    for nested in (True, False):  # the document nests the details; SDK 1.0.2's types put them flat
        press = frames.press(card_event(detail, nested), NOW)
        assert press is not None
        assert (press.sender_id, press.chat_id, press.message_id, press.data) == ("zhaomin", "wrGROUP", "rb-abc", "rb1:c:7")
        assert press.delivery_key == "wecom:e1"


def test_other_events_and_presses_without_a_card_are_not_presses() -> None:
    assert frames.press(card_event({"event_key": "rb1:c:7"}), NOW) is None
    enter = card_event({}, chattype="single")
    enter["body"]["event"] = {"eventtype": "enter_chat"}
    assert frames.press(enter, NOW) is None


def test_markdown_shows_the_text_as_written() -> None:
    text = "电话：138***88888 与 139***12345\n# 不是标题\n> 不是引用 [链接](x) `code` _x_"
    escaped = frames.markdown(text)
    assert "***" not in escaped and "\\*\\*\\*" in escaped and escaped.count("\n") == 2
    assert _unescape(escaped) == text


def test_the_confirmation_card_is_a_button_card_with_one_button_per_choice() -> None:
    card = frames.template_card("📋 新报备 BB-1\n客户：张先生\n状态：待确认", decision_buttons(7), "rb-1")
    assert card["card_type"] == "button_interaction" and card["task_id"] == "rb-1"
    assert card["main_title"]["title"] == "📋 新报备 BB-1" and card["sub_title_text"] == "客户：张先生\n状态：待确认"
    assert [(b["text"], b["key"], b["style"]) for b in card["button_list"]] == [("确认", "rb1:c:7", 1), ("驳回", "rb1:r:7", 2)]
    assert len(frames.template_card("x", reason_buttons(7), "rb-1")["button_list"]) <= 6  # WeCom's limit
    assert "button_list" not in frames.template_card("✅ 已确认", (), "rb-1")


def test_task_ids_are_unique_and_in_wecoms_alphabet() -> None:
    ids = {frames.new_task_id() for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch(r"[A-Za-z0-9_\-@]{1,128}", i) for i in ids)


def test_replies_pushes_and_cards_have_the_documented_bodies() -> None:
    assert frames.stream_body("好")["stream"]["finish"] is True and frames.stream_body("好")["msgtype"] == "stream"
    assert frames.markdown_body("好") == {"msgtype": "markdown", "markdown": {"content": "好"}}
    body = frames.card_body("卡", ((Button("确认", "rb1:c:1"),),), "rb-2")
    assert body["msgtype"] == "template_card" and body["template_card"]["task_id"] == "rb-2"
