"""The core loop end to end: the real PTB application, polling telegram-test-api, driven as people would.

A canvasser reports, a second canvasser collides, an assistant confirms and rejects with a reason on
the group card, a manager asks /who, a stranger is told their id.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import GROUP, REPORT, Office
from tests.e2e.emulator import buttons, history

pytestmark = [pytest.mark.e2e]


async def test_report_duplicate_confirm_reject_and_who_through_telegram(office: Office) -> None:
    li, wang, zhao, chen = office.li, office.wang, office.zhao, office.chen

    await li.say(101, REPORT.format(customer="张先生", phone="138***88888", team="飞虎队", name="李四"))
    receipt = (await office.next_in(101))[0]
    assert re.search(r"回执号：BB-\d{8}-0001", receipt["text"])
    card = (await office.next_in(GROUP))[0]
    assert "李四" in card["text"] and [label for label, _ in buttons(card)] == ["确认", "驳回"]

    await wang.say(103, REPORT.format(customer="张女士", phone="138****88888", team="猛虎队", name="王五"))
    refusal = (await office.next_in(103))[0]["text"]
    assert "撞单" in refusal and "飞虎队" in refusal and "李四" not in refusal

    await li.click(card, "确认")  # a canvasser may not decide: answered with an alert, card unchanged
    await zhao.click(await office.card(card["message_id"]), "确认")
    told = (await office.next_in(101))[0]["text"]
    assert "已由 赵敏 确认" in told
    confirmed = await office.card(card["message_id"], showing="✅ 已确认 — 赵敏")
    assert buttons(confirmed) == []

    await wang.say(GROUP, REPORT.format(customer="钱女士", phone="139 1234 5678", team="猛虎队", name="王五"))
    notice, second_card = await office.next_in(GROUP, count=2)
    assert "完整手机号" in notice["text"]
    assert "139***45678" in second_card["text"]
    entries = await history(office.emulator, office.token)
    assert not any("1234 5678" in str(entry.get("message", {}).get("text", "")) for entry in entries)

    await zhao.click(second_card, "驳回")
    menu = await office.card(second_card["message_id"], showing="请选择驳回原因")
    assert [label for label, _ in buttons(menu)] == ["格式错误", "信息不实", "重复", "其他", "返回"]
    await zhao.click(menu, "信息不实")
    told_wang = (await office.next_in(103))[0]["text"]
    assert "驳回" in told_wang and "信息不实" in told_wang
    rejected = await office.card(second_card["message_id"], showing="❌ 已驳回（信息不实）— 赵敏")
    assert buttons(rejected) == []

    await chen.say(104, "/who 13812388888")
    who = (await office.next_in(104))[0]["text"]
    assert "归属：李四（飞虎队）· 已确认" in who
    assert who.index("报备 BB-") < who.index("撞单") < who.index("确认 BB-")
    assert "13812388888" not in who

    await li.say(101, "/who 138***88888")
    assert "只有销售助理及以上" in (await office.next_in(101))[0]["text"]


async def test_a_stranger_is_told_their_telegram_id_and_whom_to_ask(office: Office) -> None:
    await office.stranger.say(999, "/start")
    text = (await office.next_in(999))[0]["text"]
    assert "Telegram ID：999" in text and "销售助理或管理员" in text


async def test_a_malformed_report_names_the_field_and_shows_the_template(office: Office) -> None:
    await office.li.say(101, "报备 客户：张先生 电话：138***888 队名：飞虎队 拓客：李四 到访：明天")
    text = (await office.next_in(101))[0]["text"]
    assert "【电话】" in text and "【到访时间】" in text and "客户：张先生\n电话：138***88888" in text
