"""Gathered cards (issue 24): several reports on one group card when the group's line fell behind, each with
its own 确认 and 驳回 and a 全部确认. A decision through one is the same event as through a single card."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from reportbot.handlers import cards
from reportbot.handlers.context import Services
from reportbot.handlers.messages import PICKED, Action, Alert, Edit, Send
from reportbot.rules.model import Status
from tests.conftest import local
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text

pytestmark = pytest.mark.usefixtures("both_paths")

CUSTOMERS = [("张先生", "138***88888", LI, "李四", "飞虎队"), ("刘女士", "139***12345", WANG, "王五", "猛虎队"),
             ("孙先生", "137***54321", LI, "李四", "飞虎队")]


async def three_reports(svc: Services) -> tuple[Chat, list[Send]]:
    """Three reports whose single cards waited in the group's line (their Sends carry ``card_of``)."""
    await open_office(svc)
    chat = Chat(svc)
    singles = []
    for customer, phone, user, name, team in CUSTOMERS:
        singles.append(only(await chat.say(user, report_text(customer, phone, team, name)), GROUP))
    assert [s.card_of for s in singles] == [1, 2, 3]
    return chat, singles


async def gathered(svc: Services, report_ids: list[int], channel: str = "console") -> Send:
    return await cards.gather(svc, channel, GROUP, report_ids, local("2026-11-23 10:01"))


def labels(message: Send | Edit) -> list[str]:
    return [b.label for row in message.buttons for b in row]


def alerts(actions: list[Action]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Alert)]


def edit(actions: list[Action]) -> Edit:
    [found] = [a for a in actions if isinstance(a, Edit)]
    return found


async def statuses(svc: Services) -> list[Status]:
    async with svc.db.uow(write=False) as uow:
        return [r.status for r in await uow.reports.get_many([1, 2, 3])]


async def decisions(svc: Services) -> Counter[tuple[int | None, str]]:
    """(report, kind) of each confirmed/rejected event in the project's audit chain."""
    async with svc.db.uow(write=False) as uow:
        links, _ = await uow.events.chain(1)
    return Counter((link.report_id, link.kind) for link in links if link.kind in ("confirmed", "rejected"))


async def test_a_gathered_card_lists_each_report_with_its_own_buttons_and_one_to_confirm_all(svc: Services) -> None:
    _, _ = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3])
    assert card.chat_id == GROUP and card.card_of is None
    assert card.text.startswith("📋 新报备 3 组")
    for n, (customer, phone, _, name, team) in enumerate(CUSTOMERS, 1):
        assert f"{n}. BB-20261123-000{n} {customer} {phone}" in card.text
        assert f"{team} {name} · 到访 11月24日(周二) 15:00" in card.text
    assert labels(card) == ["1 确认", "1 驳回", "2 确认", "2 驳回", "3 确认", "3 驳回", "全部确认"]
    assert all(len(b.data.encode()) <= 64 for row in card.buttons for b in row)


async def test_confirming_one_report_on_the_card_is_the_same_event_and_notice_as_on_its_own_card(
    svc: Services,
) -> None:
    chat, _ = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3])
    actions = await chat.at("2026-11-23 10:30").press(ZHAO, card, "2 确认")
    shown = edit(actions)
    assert "2. BB-20261123-0002 刘女士" in shown.text and "✅ 已确认 — 赵敏 11-23 10:30" in shown.text
    assert labels(shown) == ["1 确认", "1 驳回", "3 确认", "3 驳回", "全部确认"]
    assert alerts(actions) == ["已确认 BB-20261123-0002"]
    assert "已由 赵敏 确认" in only(actions, WANG).text and not [a for a in actions if getattr(a, "chat_id", "") == LI]
    assert await statuses(svc) == [Status.PENDING, Status.CONFIRMED, Status.PENDING]
    assert await decisions(svc) == Counter({(2, "confirmed"): 1})


async def test_rejecting_one_asks_its_reason_on_the_card_then_records_it(svc: Services) -> None:
    chat, _ = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3])
    menu = edit(await chat.press(CHEN, card, "1 驳回"))
    assert "请选择第 1 组（张先生 138***88888）的驳回原因" in menu.text
    assert labels(menu) == ["格式错误", "信息不实", "重复", "其他", "返回"]
    back = edit(await chat.press(CHEN, menu, "返回"))
    assert labels(back) == labels(card)
    menu = edit(await chat.press(CHEN, back, "1 驳回"))
    actions = await chat.press(CHEN, menu, "重复")
    assert "❌ 已驳回（重复）— 陈经理" in edit(actions).text
    told = only(actions, LI).text
    assert "驳回" in told and "重复" in told
    assert await statuses(svc) == [Status.REJECTED, Status.PENDING, Status.PENDING]
    assert await decisions(svc) == Counter({(1, "rejected"): 1})


async def test_confirm_all_confirms_what_is_open_and_tells_each_canvasser(svc: Services) -> None:
    chat, _ = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3])
    await chat.press(ZHAO, edit(await chat.press(ZHAO, card, "2 驳回")), "信息不实")
    actions = await chat.press(ZHAO, card, "全部确认")
    assert alerts(actions) == ["已确认 2 组。"]
    assert labels(edit(actions)) == [] and edit(actions).text.count("✅ 已确认 — 赵敏") == 2
    assert [s.text.count("已由 赵敏 确认") for s in actions if isinstance(s, Send) and s.chat_id == LI] == [1, 1]
    assert await statuses(svc) == [Status.CONFIRMED, Status.REJECTED, Status.CONFIRMED]
    assert await decisions(svc) == Counter({(1, "confirmed"): 1, (2, "rejected"): 1, (3, "confirmed"): 1})
    again = await chat.press(ZHAO, card, "全部确认")  # an old copy of the card, pressed again
    assert alerts(again) == ["已确认 0 组。"] and await decisions(svc) == Counter(
        {(1, "confirmed"): 1, (2, "rejected"): 1, (3, "confirmed"): 1})


async def test_presses_racing_on_one_card_each_decide_once_and_the_last_edit_shows_both(svc: Services) -> None:
    """Two assistants press the card as it first came (neither saw the other's edit): both decisions
    stand, the later edit shows both, and a second press on a decided report changes nothing."""
    chat, _ = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3])
    await chat.press(ZHAO, card, "1 确认")
    later = await chat.press(CHEN, card, "3 确认")
    assert edit(later).text.count("✅ 已确认") == 2 and labels(edit(later)) == ["2 确认", "2 驳回"]
    twice = await chat.press(CHEN, card, "1 确认")
    assert alerts(twice) == ["该报备已处理：已确认（赵敏）"]
    assert await decisions(svc) == Counter({(1, "confirmed"): 1, (3, "confirmed"): 1})


async def test_a_canvasser_or_stranger_pressing_a_gathered_card_changes_nothing(svc: Services) -> None:
    chat, _ = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3])
    for label in ("1 确认", "2 驳回", "全部确认"):
        assert await chat.press(WANG, card, label) == [Alert("只有销售助理或经理可以确认或驳回报备。")]
    assert "555" in alerts(await chat.press("555", card, "全部确认"))[0]
    assert await statuses(svc) == [Status.PENDING] * 3 and not await decisions(svc)


async def test_a_report_decided_on_its_single_card_shows_so_on_the_gathered_one(svc: Services) -> None:
    """A report's own card (or its pending reminder's) always decides; the gathered card then says so."""
    chat, singles = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3])
    await chat.press(ZHAO, singles[0], "确认")
    actions = await chat.press(CHEN, card, "1 确认")
    assert alerts(actions) == ["该报备已处理：已确认（赵敏）"]
    assert labels(edit(actions)) == ["2 确认", "2 驳回", "3 确认", "3 驳回", "全部确认"]
    assert await decisions(svc) == Counter({(1, "confirmed"): 1})


async def test_a_card_superseded_by_a_newer_one_answers_where_its_report_went(svc: Services) -> None:
    """After a crash, a card that was in flight is sent again, gathered: that one is the report's live
    card; the old one (which may have arrived) decides nothing for it and says so."""
    chat, _ = await three_reports(svc)
    old = await gathered(svc, [1, 2])
    new = await gathered(svc, [2])
    assert "📋 新报备 BB-20261123-0002" in new.text and labels(new) == ["确认", "驳回"]
    actions = await chat.press(ZHAO, old, "2 确认")
    assert alerts(actions) == ["这条报备已转到群里新的卡片上（BB-20261123-0002，待确认），请在那张卡片上处理。"]
    assert "↪ 已转到新的卡片" in edit(actions).text and labels(edit(actions)) == ["1 确认", "1 驳回"]
    assert await statuses(svc) == [Status.PENDING] * 3
    actions = await chat.press(ZHAO, old, "全部确认")  # the old card's 全部确认 leaves the moved report alone
    assert alerts(actions) == ["已确认 1 组。"] and await statuses(svc) == [Status.CONFIRMED, Status.PENDING,
                                                                         Status.PENDING]
    actions = await chat.press(ZHAO, new, "确认")
    assert "✅ 已确认 — 赵敏" in edit(actions).text and "已由 赵敏 确认" in only(actions, WANG).text
    assert await decisions(svc) == Counter({(1, "confirmed"): 1, (2, "confirmed"): 1})


async def test_on_a_card_with_a_list_the_report_is_picked_first(svc: Services) -> None:
    """WeCom's card takes six buttons: its gathered card has a list of the reports and 确认所选/驳回所选."""
    chat, _ = await three_reports(svc)
    card = await gathered(svc, [1, 2, 3], channel="wecom")
    assert labels(card) == ["确认所选", "驳回所选", "全部确认"]
    assert card.pick is not None and card.pick.options == (
        ("1", "1. 张先生 138***88888"), ("2", "2. 刘女士 139***12345"), ("3", "3. 孙先生 137***54321"))
    confirm = next(b for b in card.buttons[0] if b.label == "确认所选")
    assert PICKED in confirm.data

    def picked(option: str) -> Send:  # what the transport does with the option chosen in the list
        rows = tuple(tuple(replace(b, data=b.data.replace(PICKED, option)) for b in row) for row in card.buttons)
        return replace(card, buttons=rows)

    assert alerts(await chat.press(ZHAO, picked(""), "确认所选")) == ["请先在卡片上“选择报备”，再点确认或驳回。"]
    assert await statuses(svc) == [Status.PENDING] * 3
    await chat.press(ZHAO, picked("2"), "确认所选")
    menu = edit(await chat.press(ZHAO, picked("3"), "驳回所选"))
    assert labels(menu) == ["格式错误", "信息不实", "重复", "其他", "返回"]
    await chat.press(ZHAO, menu, "其他")
    assert await statuses(svc) == [Status.PENDING, Status.CONFIRMED, Status.REJECTED]
    forged = await chat.press(ZHAO, picked("99"), "确认所选")  # not on this card
    assert alerts(forged) and await statuses(svc) == [Status.PENDING, Status.CONFIRMED, Status.REJECTED]


async def test_twenty_reports_fit_one_telegram_message_with_long_notes(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    note = "\n备注：" + ("客户想要三房朝南，预算三百万左右，周末带家人一起来看样板间" * 6)[:200]
    for n in range(20):
        await chat.say(LI, report_text(f"客户{chr(0x4E00 + n)}", f"138***{10000 + n}", extra=note))
    card = await cards.gather(svc, "telegram", GROUP, list(range(1, 21)), local("2026-11-23 10:01"))
    assert len(card.text) <= 4096 and len(labels(card)) == 41
    assert all(f"BB-20261123-{n:04d} 客户{chr(0x4E00 + n - 1)}" in card.text for n in range(1, 21))
    few = await cards.gather(svc, "telegram", GROUP, [1, 2], local("2026-11-23 10:02"))
    assert "备注：客户想要三房朝南" in few.text and "…" in few.text  # a few: the note shown, shortened


async def test_a_card_that_would_be_too_long_leaves_the_notes_to_the_receipts(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await open_office(svc)
    chat = Chat(svc)
    for n in range(3):
        await chat.say(LI, report_text(f"客户{chr(0x4E00 + n)}", f"138***{10000 + n}", extra="\n备注：客户想要三房朝南"))
    full = await cards.gather(svc, "telegram", GROUP, [1, 2, 3], local("2026-11-23 10:01"))
    assert full.text.count("备注：客户想要三房朝南") == 3
    monkeypatch.setattr(cards, "TEXT_MOST", len(full.text) - 1)
    brief = await cards.gather(svc, "telegram", GROUP, [1, 2, 3], local("2026-11-23 10:02"))
    assert "备注" not in brief.text and all(f"BB-20261123-000{n}" in brief.text for n in (1, 2, 3))
