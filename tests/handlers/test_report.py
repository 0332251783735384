"""SPEC §3–4 at the service layer, on SQLite and PostgreSQL: receipts, refusals, duplicates."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Delete, Send
from reportbot.handlers.report import MALFORMED_COUNTER
from reportbot.rules.model import EventKind
from reportbot.storage.tables import ReportRow
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text, sent

pytestmark = pytest.mark.usefixtures("both_paths")


async def count_reports(svc: Services) -> int:
    async with svc.db.uow(write=False) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(ReportRow))).scalar_one())


async def test_a_well_formed_report_gets_a_receipt_and_a_card_in_the_group(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(LI, report_text())
    receipt = only(actions, LI).text
    assert "回执号：BB-20261123-0001" in receipt
    assert "预约到访：11月24日(周二) 15:00" in receipt
    assert "有效期至：11月30日(周一) 23:59" in receipt
    assert "待确认" in receipt
    card = only(actions, GROUP)
    assert "BB-20261123-0001" in card.text and "李四" in card.text and "138***88888" in card.text
    assert [b.label for row in card.buttons for b in row] == ["确认", "驳回"]


async def test_receipt_numbers_are_sequential_per_project_and_day(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    first = only(await chat.say(LI, report_text(phone="138***00001")), LI).text
    second = only(await chat.say(WANG, report_text(phone="138***00002", team="猛虎队", who="王五")), WANG).text
    next_day = only(await chat.at("2026-11-24 09:00").say(LI, report_text(phone="138***00003")), LI).text
    assert "BB-20261123-0001" in first
    assert "BB-20261123-0002" in second
    assert "BB-20261124-0001" in next_day


async def test_the_same_canvasser_reporting_again_gets_the_same_receipt_and_no_new_record(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    again = only(await chat.at("2026-11-23 11:00").say(LI, report_text(when="后天上午10点")), LI).text
    assert "已报备过" in again and "BB-20261123-0001" in again
    assert await count_reports(svc) == 1


async def test_another_canvasser_is_refused_with_team_and_time_only_and_the_attempt_is_recorded(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    actions = await chat.at("2026-11-23 10:20").say(WANG, report_text(customer="张太太", team="猛虎队", who="王五"))
    refusal = only(actions, WANG).text
    assert "撞单" in refusal and "飞虎队" in refusal and "11月23日(周一) 10:00" in refusal
    assert "李四" not in refusal and "张先生" not in refusal and "138" not in refusal
    assert sent(actions, GROUP) == []
    assert await count_reports(svc) == 1
    async with svc.db.uow(write=False) as uow:
        assert await uow.events.count(EventKind.DUPLICATE_REFUSED) == 1


async def test_the_customer_key_is_the_masked_phone_whatever_the_mask_count_or_name(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    refusal = only(await chat.say(WANG, report_text(customer="张女士", phone="138*88888", team="猛虎队", who="王五")), WANG)
    assert "撞单" in refusal.text


async def test_a_public_customer_is_refused(svc: Services) -> None:
    await open_office(svc)
    async with svc.db.uow() as uow:
        project = (await uow.projects.all())[0]
        await uow.reports.declare_public(project.id, "138***88888", Chat(svc).now)
        await uow.commit()
    refusal = only(await Chat(svc).say(LI, report_text()), LI).text
    assert "公号" in refusal
    assert await count_reports(svc) == 0


async def test_a_canvasser_over_the_active_report_limit_is_refused_with_the_limit(svc: Services) -> None:
    await open_office(svc)
    limited = replace(svc, policy=replace(svc.policy, max_active_reports_per_canvasser=2))
    chat = Chat(limited)
    for n in (1, 2):
        assert "回执号" in only(await chat.say(LI, report_text(phone=f"138***0000{n}")), LI).text
    refusal = only(await chat.say(LI, report_text(phone="138***00003")), LI).text
    assert "上限 2 组" in refusal
    assert await count_reports(svc) == 2


async def test_a_malformed_report_names_every_wrong_field_shows_the_template_and_only_counts(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(LI, "报备 客户：张先生 电话：12345 到访：明天")
    text = only(actions, LI).text
    assert "【电话】" in text and "【队名】" in text and "【拓客】" in text and "【到访时间】" in text
    assert "客户：张先生\n电话：138***88888\n队名：飞虎队\n拓客：李四" in text  # the template, with the sender's own team
    assert await count_reports(svc) == 0
    async with svc.db.uow(write=False) as uow:
        assert await uow.counters.get(MALFORMED_COUNTER, "20261123") == 1


async def test_an_appointment_outside_the_window_is_refused_naming_the_field(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    too_late = only(await chat.say(LI, report_text(when="12月1日上午10点")), LI).text
    too_soon = only(await chat.say(LI, report_text(when="今天10:20")), LI).text
    last_day = only(await chat.say(LI, report_text(when="11月30日23:59")), LI).text
    assert "【到访时间】" in too_late and "11月30日" in too_late
    assert "【到访时间】" in too_soon and "30" in too_soon
    assert "回执号" in last_day


async def test_a_canvasser_cannot_report_for_another_team_or_name(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    wrong_team = only(await chat.say(LI, report_text(team="猛虎队")), LI).text
    wrong_name = only(await chat.say(LI, report_text(who="王五")), LI).text
    assert "【队名】" in wrong_team and "飞虎队" in wrong_team
    assert "【拓客】" in wrong_name and "李四" in wrong_name
    assert await count_reports(svc) == 0


async def test_an_assistant_files_on_behalf_of_a_named_canvasser_who_is_told(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(ZHAO, report_text())
    assert "回执号" in only(actions, ZHAO).text
    told = only(actions, LI).text
    assert "赵敏" in told and "代报备" in told
    assert "李四" in only(actions, GROUP).text
    async with svc.db.uow(write=False) as uow:
        report = (await uow.reports.by_phone([1], "138***88888"))[0]
    assert report.canvasser_name == "李四" and report.team == "飞虎队"


async def test_filing_on_behalf_of_an_unknown_canvasser_is_refused(svc: Services) -> None:
    await open_office(svc)
    text = only(await Chat(svc).say(CHEN, report_text(who="不存在")), CHEN).text
    assert "【拓客】" in text and "不存在" in text
    assert await count_reports(svc) == 0


async def test_a_full_number_in_the_group_is_deleted_masked_and_never_echoed(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(WANG, report_text(phone="138 1234 5678", team="猛虎队", who="王五"), group=GROUP)
    assert any(isinstance(a, Delete) and a.chat_id == GROUP for a in actions)
    texts = [a.text for a in actions if isinstance(a, Send)]
    assert any("完整手机号" in t for t in texts)
    assert any("138***45678" in t for t in texts)
    assert not any(re.search(r"1381234|12345678", t) for t in texts)
    async with svc.db.uow(write=False) as uow:
        assert [r.phone for r in await uow.reports.by_phone([1], "138***45678")] == ["138***45678"]


async def test_a_full_number_in_a_private_chat_is_masked_in_the_receipt(svc: Services) -> None:
    await open_office(svc)
    receipt = only(await Chat(svc).say(LI, report_text(phone="13812345678")), LI).text
    assert "138***45678" in receipt and "13812345678" not in receipt and "完整手机号" in receipt


async def test_a_report_in_the_group_gets_the_card_as_its_receipt(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(LI, report_text(), group=GROUP)
    assert len(sent(actions, GROUP)) == 1 and sent(actions, LI) == []


async def test_an_unregistered_user_gets_their_id_and_nothing_is_recorded(svc: Services) -> None:
    await open_office(svc)
    text = only(await Chat(svc).say("999", report_text()), "999").text
    assert "999" in text and "登记" in text
    assert await count_reports(svc) == 0


async def test_a_group_that_is_no_project_says_so_and_ignores_chatter(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    answer = only(await chat.say(LI, report_text(), group="-100999"), "-100999").text
    assert "还没有登记为项目群" in answer
    assert await chat.say(LI, "大家好", group="-100999") == []
    assert await chat.say(LI, "大家好", group=GROUP) == []
    assert await count_reports(svc) == 0


async def test_a_full_number_in_the_note_is_masked_before_it_is_stored(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(LI, report_text(extra="\n备注：太太电话 139 1234 5678"))
    card = only(actions, GROUP).text
    assert "备注：太太电话 139***45678" in card and "1234 5678" not in card
    async with svc.db.uow(write=False) as uow:
        assert (await uow.reports.get(1)).note == "太太电话 139***45678"  # type: ignore[union-attr]


async def test_any_group_command_showing_a_full_number_is_deleted_too(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(ZHAO, "/who 13812388888", group=GROUP)
    assert any(isinstance(a, Delete) for a in actions)
    assert all("13812388888" not in a.text for a in actions if isinstance(a, Send))
