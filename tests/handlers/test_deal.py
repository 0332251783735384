"""/deal (SPEC §2): a deal is recorded once, for whoever owned the visited customer, on both databases."""

from __future__ import annotations

import asyncio

from reportbot.handlers.context import Services
from reportbot.handlers.sweep import sweep
from reportbot.rules.model import EventKind
from tests.conftest import local
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text, sent


async def visited(svc: Services) -> Chat:
    """李四's customer 138***88888, reported Monday, visited Tuesday 15:00."""
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    await chat.at("2026-11-24 15:00").say(ZHAO, "/visit 138***88888")
    return chat.at("2026-11-24 16:00")


async def deal_events(svc: Services) -> int:
    async with svc.db.uow(write=False) as uow:
        return await uow.events.count(EventKind.DEAL)


async def test_a_deal_is_recorded_for_the_owner_who_is_told(svc: Services) -> None:
    chat = await visited(svc)
    actions = await chat.say(ZHAO, "/deal 138***88888 认购3号楼1201")
    answer = only(actions, ZHAO).text
    assert answer.startswith("🎉 成交登记：138***88888") and "归属：李四（飞虎队）" in answer and "认购3号楼1201" in answer
    assert only(actions, LI).text == answer
    async with svc.db.uow(write=False) as uow:
        deal = await uow.deals.of_customer(1, "138***88888")
    assert deal is not None and deal.owner_name == "李四" and deal.team == "飞虎队" and deal.recorded_by_name == "赵敏"
    assert "成交：归属：李四（飞虎队）；认购3号楼1201" in only(await chat.say(CHEN, "/who 138***88888"), CHEN).text


async def test_a_deal_may_name_the_receipt_and_is_never_recorded_twice(svc: Services) -> None:
    chat = await visited(svc)
    await chat.say(CHEN, "/deal BB-20261123-0001")
    again = await chat.at("2026-11-25 10:00").say(ZHAO, "/deal 138***88888")
    assert "已于 11月24日(周二) 16:00 登记成交，不再重复记录" in only(again, ZHAO).text
    assert sent(again, LI) == [] and await deal_events(svc) == 1


async def test_two_people_recording_the_same_deal_at_once_record_it_once(svc: Services) -> None:
    chat = await visited(svc)
    answers = await asyncio.gather(chat.say(ZHAO, "/deal 138***88888"), chat.say(CHEN, "/deal 138***88888"))
    assert await deal_events(svc) == 1
    recorded = [only(a, who).text.startswith("🎉") for a, who in zip(answers, (ZHAO, CHEN), strict=True)]
    assert sorted(recorded) == [False, True]


async def test_a_customer_who_never_visited_cannot_have_a_deal(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    answer = only(await chat.say(ZHAO, "/deal 138***88888"), ZHAO).text
    assert "还没有到访登记，不能登记成交" in answer and "/visit 138***88888" in answer
    assert "没有找到“BB-20261123-0009”" in only(await chat.say(ZHAO, "/deal BB-20261123-0009"), ZHAO).text
    assert await deal_events(svc) == 0


async def test_bad_input_names_the_field_and_shows_the_usage(svc: Services) -> None:
    chat = await visited(svc)
    assert "用法：/deal 回执号或电话" in only(await chat.say(ZHAO, "/deal"), ZHAO).text
    wrong = only(await chat.say(ZHAO, "/deal 12345"), ZHAO).text
    assert wrong.startswith("❌") and "用法：/deal" in wrong
    assert "备注最多200个字" in only(await chat.say(ZHAO, "/deal 138***88888 " + "长" * 201), ZHAO).text
    assert await deal_events(svc) == 0
    assert "只有销售助理及以上" in only(await chat.say(WANG, "/deal 138***88888"), WANG).text


async def test_a_whole_number_in_the_note_is_masked(svc: Services) -> None:
    chat = await visited(svc)
    answer = only(await chat.say(ZHAO, "/deal 138***88888 联系人 13912345678"), ZHAO).text
    assert "139***45678" in answer and "13912345678" not in answer


async def test_a_natural_visitors_deal_counts_for_the_office(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(ZHAO, "/visit 151***00005", group=GROUP)
    answer = only(await chat.say(ZHAO, "/deal 151***00005", group=GROUP), GROUP).text
    assert "归属：案场（不计拓客）" in answer


async def test_a_sold_customer_keeps_its_owner_and_gets_no_follow_up_reminders(svc: Services) -> None:
    chat = await visited(svc)
    await chat.say(ZHAO, "/deal 138***88888")
    reminders = await sweep(svc, local("2026-11-25 12:00"), "console")  # the first follow-up fell due
    assert sent(reminders, LI) == []
    await sweep(svc, local("2026-12-02 15:00"), "console")  # a week without follow-up: a sold customer stays
    async with svc.db.uow(write=False) as uow:
        visit = await uow.visits.of_customer(1, "138***88888")
    assert visit is not None and visit.owner_name == "李四" and visit.lapsed_at is None
