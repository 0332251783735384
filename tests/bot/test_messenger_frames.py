"""DingTalk and Feishu frames ↔ neutral messages: who wrote where, the @-mention, presses, cards, and hostile
frames that must never raise (a frame that cannot be read is nothing to handle, not a crash of the worker)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportbot.bot import dingtalk_frames as dt
from reportbot.bot import feishu_frames as fs
from reportbot.handlers.cards import decision_buttons
from tests.fuzz import fuzz_settings

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def dingtalk_message(**data: Any) -> dict[str, Any]:
    base = {"msgId": "msgA1", "conversationType": "1", "conversationId": "cidP2P", "senderStaffId": "li4521",
            "msgtype": "text", "text": {"content": "/mine"}, "sessionWebhook": "https://x", "sessionWebhookExpiredTime": 1}
    return dt.spooled(dt.MESSAGE_TOPIC, "frame1", {**base, **data})


def feishu_message(**message: Any) -> dict[str, Any]:
    base = {"message_id": "om_1", "chat_id": "oc_p2p", "chat_type": "p2p", "message_type": "text",
            "content": json.dumps({"text": "/mine"})}
    return {"schema": "2.0", "header": {"event_id": "ev1", "event_type": fs.MESSAGE_EVENT},
            "event": {"sender": {"sender_id": {"open_id": "ou_li"}}, "message": {**base, **message}}}


def test_a_dingtalk_private_message_is_the_persons_chat_keyed_by_msgid() -> None:
    msg = dt.incoming(dingtalk_message(), NOW)
    assert msg is not None
    assert (msg.channel, msg.sender_id, msg.chat_id, msg.is_group, msg.text) == ("dingtalk", "li4521", "li4521", False, "/mine")
    assert msg.delivery_key == "dingtalk:msgA1" and msg.message_id is None


def test_a_dingtalk_group_message_belongs_to_the_group_and_loses_its_mention() -> None:
    msg = dt.incoming(dingtalk_message(conversationType="2", conversationId="cidG==",
                                       text={"content": " @报备助手 /who 138***88888"}), NOW)
    assert msg is not None and msg.is_group and msg.chat_id == "cidG==" and msg.text == "/who 138***88888"


def test_a_dingtalk_card_press_names_the_presser_the_card_and_the_button() -> None:
    content = json.dumps({"cardPrivateData": {"actionIds": ["rb1:c:7"], "params": {}}})
    frame = dt.spooled(dt.CARD_TOPIC, "frame9", {"outTrackId": "rb-abc", "userId": "zhao", "content": content,
                                                 "openConversationId": "cidG=="})
    press = dt.press(frame, NOW)
    assert press is not None
    assert (press.sender_id, press.chat_id, press.message_id, press.data) == ("zhao", "cidG==", "rb-abc", "rb1:c:7")
    assert press.delivery_key == "dingtalk:frame:frame9"
    assert dt.incoming(frame, NOW) is None and dt.press(dingtalk_message(), NOW) is None


def test_a_dingtalk_card_carries_every_button_as_a_request_action_with_its_data() -> None:
    card = dt.card_data("📋 新报备 BB-1\n客户：张先生", decision_buttons(7))
    actions = [a for c in card["contents"] if c["type"] == "action" for a in c["actions"]]
    assert card["header"]["title"]["text"] == "📋 新报备 BB-1" and card["contents"][0]["text"] == "客户：张先生"
    assert [(a["label"]["text"], a["id"], a["actionType"]) for a in actions] == [
        ("确认", "rb1:c:7", "request"), ("驳回", "rb1:r:7", "request")]


def test_a_feishu_private_message_is_the_persons_open_id_and_a_group_message_loses_its_mention() -> None:
    msg = fs.incoming(feishu_message(), NOW)
    assert msg is not None and (msg.sender_id, msg.chat_id, msg.is_group, msg.text) == ("ou_li", "ou_li", False, "/mine")
    assert msg.delivery_key == "feishu:om_1"
    group = fs.incoming(feishu_message(chat_type="group", chat_id="oc_g", content=json.dumps({"text": "@_user_1 /who 1"})), NOW)
    assert group is not None and group.chat_id == "oc_g" and group.text == "/who 1"


def test_a_feishu_card_press_and_card() -> None:
    frame = {"schema": "2.0", "header": {"event_id": "ev7", "event_type": fs.CARD_EVENT},
             "event": {"operator": {"open_id": "ou_zhao"}, "action": {"value": {"d": "rb1:r:7"}, "tag": "button"},
                       "context": {"open_message_id": "om_9", "open_chat_id": "oc_g"}}}
    press = fs.press(frame, NOW)
    assert press is not None
    assert (press.sender_id, press.chat_id, press.message_id, press.data) == ("ou_zhao", "oc_g", "om_9", "rb1:r:7")
    assert press.delivery_key == "feishu:event:ev7"
    card = fs.card("📋 新报备\n客户：张先生", decision_buttons(7))
    assert card["config"]["update_multi"] is True
    assert [b["value"]["d"] for b in card["elements"][1]["actions"]] == ["rb1:c:7", "rb1:r:7"]
    assert fs.receive_id_type("oc_g") == "chat_id" and fs.receive_id_type("ou_li") == "open_id"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
fields = st.dictionaries(st.sampled_from(["msgId", "conversationType", "conversationId", "senderStaffId", "msgtype",
                                          "text", "outTrackId", "userId", "content", "openConversationId"]),
                         json_values | st.just(json.dumps({"cardPrivateData": {"actionIds": ["x"]}})), max_size=8)


@pytest.mark.fuzz
@fuzz_settings(300)
@given(topic=st.sampled_from([dt.MESSAGE_TOPIC, dt.CARD_TOPIC, "other"]), data=fields)
def test_no_dingtalk_frame_raises(topic: str, data: dict[str, Any]) -> None:
    frame = dt.spooled(topic, "f", data)
    for parsed in (dt.incoming(frame, NOW), dt.press(frame, NOW)):
        assert parsed is None or parsed.channel == "dingtalk"


feishu_events = st.fixed_dictionaries({
    "header": st.fixed_dictionaries({"event_type": st.sampled_from([fs.MESSAGE_EVENT, fs.CARD_EVENT, "x"])}),
    "event": st.dictionaries(st.sampled_from(["sender", "message", "operator", "action", "context"]),
                             json_values | st.dictionaries(st.sampled_from(
                                 ["message_type", "content", "chat_type", "chat_id", "open_id", "value",
                                  "open_message_id", "sender_id"]), json_values, max_size=5), max_size=5),
})


@pytest.mark.fuzz
@fuzz_settings(300)
@given(frame=feishu_events)
def test_no_feishu_event_raises(frame: dict[str, Any]) -> None:
    for parsed in (fs.incoming(frame, NOW), fs.press(frame, NOW)):
        assert parsed is None or parsed.channel == "feishu"
