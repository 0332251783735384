"""SPEC §8: /who, /mine, /help — and who may ask."""

from __future__ import annotations

import pytest

from reportbot.handlers.context import Services
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text

pytestmark = pytest.mark.usefixtures("both_paths")


async def day_with_a_duplicate_and_a_confirmation(svc: Services) -> Chat:
    await open_office(svc)
    chat = Chat(svc)
    card = only(await chat.say(LI, report_text()), GROUP)
    await chat.at("2026-11-23 10:20").say(WANG, report_text(team="猛虎队", who="王五"))
    await chat.at("2026-11-23 10:30").press(ZHAO, card, "确认")
    return chat.at("2026-11-23 12:00")


async def test_who_by_masked_phone_shows_owner_status_time_left_and_history_in_order(svc: Services) -> None:
    chat = await day_with_a_duplicate_and_a_confirmation(svc)
    text = only(await chat.say(ZHAO, "/who 138***88888"), ZHAO).text
    assert "归属：李四（飞虎队）· 已确认" in text
    assert "剩余7天12小时" in text
    history = text[text.index("记录：") :]
    assert history.index("报备 BB-20261123-0001") < history.index("撞单") < history.index("确认 BB")
    assert "王五（猛虎队）" in history


async def test_who_finds_the_customer_by_full_phone_receipt_or_name(svc: Services) -> None:
    chat = await day_with_a_duplicate_and_a_confirmation(svc)
    for query in ("13812388888", "138-123-88888", "BB-20261123-0001", "bb-20261123-0001", "张先生", "138****88888"):
        text = only(await chat.say(CHEN, f"/who {query}"), CHEN).text
        assert "归属：李四（飞虎队）" in text, query
        assert "13812388888" not in text


async def test_who_for_an_unknown_customer_says_nobody_holds_it_without_echoing_a_full_number(svc: Services) -> None:
    await open_office(svc)
    text = only(await Chat(svc).say(ZHAO, "/who 13900001111"), ZHAO).text
    assert "无人报备" in text and "139***01111" in text and "13900001111" not in text


async def test_who_without_a_query_shows_how_to_use_it(svc: Services) -> None:
    await open_office(svc)
    assert "用法" in only(await Chat(svc).say(ZHAO, "/who"), ZHAO).text


async def test_a_canvasser_may_not_use_who(svc: Services) -> None:
    chat = await day_with_a_duplicate_and_a_confirmation(svc)
    text = only(await chat.say(LI, "/who 138***88888"), LI).text
    assert "只有销售助理及以上" in text and "飞虎队" not in text


async def test_mine_lists_only_my_active_reports_with_time_left(svc: Services) -> None:
    chat = await day_with_a_duplicate_and_a_confirmation(svc)
    await chat.say(LI, report_text(customer="钱女士", phone="139***12345", when="后天上午10点"))
    mine = only(await chat.say(LI, "/mine"), LI).text
    assert "（2 组）" in mine and "张先生" in mine and "钱女士" in mine and "剩余" in mine
    assert "您目前没有有效报备" in only(await chat.say(WANG, "/mine"), WANG).text


async def test_help_shows_the_template_and_the_commands_of_the_role(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    canvasser = only(await chat.say(LI, "/help"), LI).text
    assistant = only(await chat.say(ZHAO, "/start"), ZHAO).text
    assert "客户：张先生\n电话：138***88888" in canvasser
    assert "/mine" in canvasser and "/who" not in canvasser
    assert "/who" in assistant


async def test_commands_addressed_to_the_bot_by_name_work_in_the_group(svc: Services) -> None:
    await open_office(svc)
    text = only(await Chat(svc).say(ZHAO, "/who@ReportBot 138***88888", group=GROUP), GROUP).text
    assert "没有找到" in text


async def test_an_unknown_command_and_plain_text_in_private_get_a_hint(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    assert "/help" in only(await chat.say(LI, "/frobnicate"), LI).text
    assert "/help" in only(await chat.say(LI, "你好"), LI).text
