"""SPEC §5 confirmation: the card's buttons, who may press them, and what everyone is told."""

from __future__ import annotations

import pytest

from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Alert, Edit, Press, Send
from reportbot.rules.model import Status
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text

pytestmark = pytest.mark.usefixtures("both_paths")


async def reported(svc: Services) -> tuple[Chat, Send]:
    await open_office(svc)
    chat = Chat(svc)
    return chat, only(await chat.say(LI, report_text()), GROUP)


def alerts(actions: list) -> list[str]:
    return [a.text for a in actions if isinstance(a, Alert)]


def edits(actions: list) -> list[Edit]:
    return [a for a in actions if isinstance(a, Edit)]


async def status_of(svc: Services) -> Status:
    async with svc.db.uow(write=False) as uow:
        return (await uow.reports.get(1)).status  # type: ignore[union-attr]


async def test_an_assistant_confirms_the_card_is_edited_and_the_canvasser_told(svc: Services) -> None:
    chat, card = await reported(svc)
    actions = await chat.at("2026-11-23 10:30").press(ZHAO, card, "确认")
    edit = edits(actions)[0]
    assert "已确认 — 赵敏 11-23 10:30" in edit.text and edit.buttons == ()
    assert alerts(actions) == ["已确认 BB-20261123-0001"]
    assert "已由 赵敏 确认" in only(actions, LI).text
    assert await status_of(svc) is Status.CONFIRMED


async def test_a_canvasser_pressing_a_button_gets_an_alert_and_changes_nothing(svc: Services) -> None:
    chat, card = await reported(svc)
    actions = await chat.press(WANG, card, "确认")
    assert actions == [Alert("只有销售助理或经理可以确认或驳回报备。")]
    assert await status_of(svc) is Status.PENDING


async def test_a_stranger_pressing_a_button_is_told_to_register(svc: Services) -> None:
    chat, card = await reported(svc)
    actions = await chat.press("555", card, "确认")
    assert "555" in alerts(actions)[0]
    assert await status_of(svc) is Status.PENDING


async def test_reject_asks_for_a_reason_then_records_it_and_tells_the_canvasser(svc: Services) -> None:
    chat, card = await reported(svc)
    menu = edits(await chat.press(CHEN, card, "驳回"))[0]
    assert [b.label for row in menu.buttons for b in row] == ["格式错误", "信息不实", "重复", "其他", "返回"]
    assert await status_of(svc) is Status.PENDING
    actions = await chat.press(CHEN, menu, "重复")
    assert "已驳回（重复）— 陈经理" in edits(actions)[0].text
    told = only(actions, LI).text
    assert "驳回" in told and "重复" in told
    assert await status_of(svc) is Status.REJECTED


async def test_back_from_the_reason_menu_restores_the_decision_buttons(svc: Services) -> None:
    chat, card = await reported(svc)
    menu = edits(await chat.press(ZHAO, card, "驳回"))[0]
    back = edits(await chat.press(ZHAO, menu, "返回"))[0]
    assert [b.label for row in back.buttons for b in row] == ["确认", "驳回"]


async def test_a_second_decision_is_refused_and_shows_the_first(svc: Services) -> None:
    chat, card = await reported(svc)
    await chat.press(ZHAO, card, "确认")
    actions = await chat.press(CHEN, card, "驳回")
    assert "已处理：已确认（赵敏）" in alerts(actions)[0]
    assert edits(actions)[0].buttons == ()
    assert await status_of(svc) is Status.CONFIRMED


async def test_a_rejected_customer_can_be_reported_again(svc: Services) -> None:
    chat, card = await reported(svc)
    menu = edits(await chat.press(ZHAO, card, "驳回"))[0]
    await chat.press(ZHAO, menu, "格式错误")
    again = only(await chat.say(WANG, report_text(team="猛虎队", who="王五")), WANG).text
    assert "BB-20261123-0002" in again


async def test_button_data_that_is_not_ours_is_answered_and_ignored(svc: Services) -> None:
    await open_office(svc)
    for data in ("", "rb1:c:", "rb1:x:1", "rb1:x:1:nope", "rb2:c:1", "rb1:c:99999", "x" * 300):
        actions = await handle_press(Press("console", ZHAO, GROUP, "1", data, Chat(svc).now), svc)
        assert len(actions) == 1 and isinstance(actions[0], Alert) and actions[0].text
