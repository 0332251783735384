"""SPEC §5–7 at the service layer on SQLite and PostgreSQL: visits, ownership, expiry, 公号, follow-ups."""

from __future__ import annotations

import pytest

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action
from reportbot.handlers.sweep import sweep
from reportbot.rules.model import Status
from tests.conftest import local
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text, sent

pytestmark = pytest.mark.usefixtures("both_paths")


async def sweep_at(svc: Services, when: str) -> list[Action]:
    return await sweep(svc, local(when), "console")


def texts(actions: list[Action], chat: str) -> list[str]:
    return [a.text for a in sent(actions, chat)]


async def status_of(svc: Services, report_id: int = 1) -> Status:
    async with svc.db.uow(write=False) as uow:
        report = await uow.reports.get(report_id)
    assert report is not None
    return report.status


# ── visits and ownership ──────────────────────────────────────────────────────────────────────────

async def test_a_visit_of_a_reported_customer_goes_to_the_reporter_and_is_announced(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    actions = await chat.at("2026-11-24 15:05").say(ZHAO, "/visit 13812388888 同行：2")
    group = only(actions, GROUP).text
    assert "归属：李四（飞虎队）" in group and "报备在先" in group and "同行2人" in group
    assert "归属：李四（飞虎队）" in only(actions, LI).text
    assert await status_of(svc) is Status.VISITED


async def test_with_no_report_the_canvasser_who_brought_the_customer_owns_it(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(ZHAO, "/visit 139***00001 带客：王五")
    assert "归属：王五（猛虎队）" in only(actions, GROUP).text and "亲自带客" in only(actions, GROUP).text
    assert "归属：王五" in only(actions, WANG).text


async def test_an_active_report_wins_over_who_brought_the_customer(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    actions = await chat.at("2026-11-24 15:00").say(ZHAO, "/visit 138***88888 带客：王五")
    assert "归属：李四（飞虎队）" in only(actions, GROUP).text


async def test_with_no_report_and_nobody_bringing_them_the_customer_is_a_natural_visitor(svc: Services) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(ZHAO, "/visit 139***00002")
    assert "案场（自然来访" in only(actions, GROUP).text


async def test_a_second_visit_changes_nothing_and_a_report_after_the_visit_is_refused(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(ZHAO, "/visit 139***00002")
    again = only(await chat.at("2026-11-23 11:00").say(ZHAO, "/visit 139***00002"), ZHAO).text
    assert "已于" in again and "归属不变" in again
    refused = only(await chat.say(LI, report_text(phone="139***00002")), LI).text
    assert "已于" in refused and "到访" in refused and "不再接受报备" in refused


async def test_canvassers_may_not_register_visits_and_bad_arguments_show_the_usage(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    assert "只有销售助理及以上" in only(await chat.say(LI, "/visit 139***00002"), LI).text
    assert "用法" in only(await chat.say(ZHAO, "/visit 张先生"), ZHAO).text
    assert "没有找到“孙悟空”" in only(await chat.say(ZHAO, "/visit 139***00002 带客：孙悟空"), ZHAO).text


async def test_a_late_claim_needs_a_proof_dated_before_the_visit(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.at("2026-11-23 10:00").say(ZHAO, "/visit 139***00003")
    too_late = only(await chat.at("2026-11-23 12:00").say(
        CHEN, "/claim 139***00003 拓客：李四 队名：飞虎队 证据：微信聊天记录 时间：11-23 10:30"), CHEN).text
    assert "不在到访之前" in too_late
    assert "只有经理及以上" in only(await chat.say(ZHAO, "/claim 139***00003 拓客：李四 证据：x 时间：09:00"), ZHAO).text
    actions = await chat.say(CHEN, "/claim 139***00003 拓客：李四 队名：飞虎队 证据：微信聊天记录 时间：11-23 09:10")
    assert "归属：李四（飞虎队）" in only(actions, GROUP).text and "微信聊天记录" in only(actions, GROUP).text
    who = only(await chat.say(CHEN, "/who 139***00003"), CHEN).text
    assert "核实证据改判" in who and "原归属：案场" in who


async def test_revoking_needs_a_reason_and_names_who_follows_up(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    await chat.at("2026-11-24 15:00").say(ZHAO, "/visit 138***88888")
    assert "必须写明原因" in only(await chat.say(CHEN, "/revoke 138***88888 接手：王五"), CHEN).text
    actions = await chat.say(CHEN, "/revoke 138***88888 原因：违规截客 接手：王五 队名：猛虎队")
    assert "归属：王五（猛虎队）" in only(actions, GROUP).text
    assert "违规截客" in only(actions, LI).text  # the former owner is told
    who = only(await chat.say(CHEN, "/who 138***88888"), CHEN).text
    assert "撤销归属：原因：违规截客" in who and "归属：王五（猛虎队）" in who


# ── expiry, re-reports and 公号 ───────────────────────────────────────────────────────────────────

async def test_a_report_expires_exactly_at_the_end_of_its_validity_and_the_canvasser_is_told(svc: Services) -> None:
    await open_office(svc)
    await Chat(svc).say(LI, report_text())  # valid until 2026-12-01 00:00
    await sweep_at(svc, "2026-11-30 23:59")
    assert await status_of(svc) is Status.CONFIRMED or await status_of(svc) is Status.PENDING
    held = await sweep_at(svc, "2026-12-01 00:00")  # expired now; the notice waits for the quiet hours to end
    assert await status_of(svc) is Status.EXPIRED and sent(held, LI) == []
    morning = await sweep_at(svc, "2026-12-01 08:00")
    assert any("已失效" in t for t in texts(morning, LI))
    free = only(await Chat(svc).at("2026-12-01 09:00").say(WANG, report_text(team="猛虎队", who="王五")), WANG).text
    assert "回执号" in free  # the key is free; another canvasser needs no reason


async def test_a_re_report_of_ones_own_expired_customer_needs_a_reason(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    await sweep_at(svc, "2026-12-01 08:00")
    chat.at("2026-12-01 09:00")
    refused = only(await chat.say(LI, report_text()), LI).text
    assert "须说明客户未到访的原因" in refused
    accepted = await chat.say(LI, "/rereport BB-20261123-0001 客户电话关机 明天下午3点")
    assert "回执号：BB-20261201-0001" in only(accepted, LI).text
    card = only(accepted, GROUP).text
    assert "重新报备，原因：客户电话关机" in card and "联系不上，请销售助理核查" in card


async def test_after_the_first_report_and_three_re_reports_expire_the_customer_is_public(svc: Services) -> None:
    await open_office(svc)
    for n, (day, expired_morning) in enumerate(
        [("11-01", "11-09"), ("11-09", "11-17"), ("11-17", "11-25"), ("11-25", "12-03")]
    ):
        chat = Chat(svc).at(f"2026-{day} 10:00")
        reason = "" if n == 0 else "\n原因：客户出差"
        assert "回执号" in only(await chat.say(LI, report_text(extra=reason)), LI).text
        actions = await sweep_at(svc, f"2026-{expired_morning} 09:00")
        expired_notice = " ".join(texts(actions, LI))
        assert "已失效" in expired_notice
    assert "公号" in expired_notice
    chat = Chat(svc).at("2026-12-04 10:00")
    assert "公号" in only(await chat.say(WANG, report_text(team="猛虎队", who="王五")), WANG).text
    assert "解除公号" in only(await chat.say(CHEN, "/release 138***88888 原因：客户重新联系"), CHEN).text
    assert "回执号" in only(await chat.say(WANG, report_text(team="猛虎队", who="王五")), WANG).text


# ── follow-ups, reminders, digests ────────────────────────────────────────────────────────────────

async def test_a_visited_customer_without_follow_up_for_seven_days_lapses_to_the_office(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    await chat.say(LI, report_text(customer="钱女士", phone="139***12345"))
    await chat.at("2026-11-24 15:00").say(ZHAO, "/visit 138***88888")
    await chat.say(ZHAO, "/visit 139***12345")
    assert "已记录跟进" in only(await chat.at("2026-11-28 10:00").say(LI, "/follow 139***12345 周末带父母再来"), LI).text
    actions = await sweep_at(svc, "2026-12-01 15:00")
    lapse_notices = [t for t in texts(actions, LI) if "归属已失效" in t]
    assert len(lapse_notices) == 1 and "138***88888" in lapse_notices[0]
    who = only(await chat.at("2026-12-01 16:00").say(CHEN, "/who 138***88888"), CHEN).text
    assert "案场（原归属因未跟进失效）" in who and "归属失效" in who
    assert "归属：李四（飞虎队）" in only(await chat.say(CHEN, "/who 139***12345"), CHEN).text


async def test_follow_up_reminders_come_before_each_deadline_unless_done(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.at("2026-11-23 10:00").say(ZHAO, "/visit 139***00004 带客：王五")
    first = await sweep_at(svc, "2026-11-24 06:00")  # 20 hours after the visit, but quiet until 08:00
    assert sent(first, WANG) == []
    first = await sweep_at(svc, "2026-11-24 08:00")
    assert any("首次跟进" in t for t in texts(first, WANG))
    await chat.at("2026-11-24 09:00").say(WANG, "/follow 139***00004 已回访")
    await chat.at("2026-11-25 09:00").say(WANG, "/follow 139***00004 约了周末")
    assert sent(await sweep_at(svc, "2026-11-26 08:00"), WANG) == []  # two follow-ups: no second reminder


async def test_only_the_owner_or_an_assistant_may_log_a_follow_up(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text())
    assert "只能为自己" in only(await chat.say(WANG, "/follow BB-20261123-0001 我也联系过"), WANG).text
    assert "已记录跟进" in only(await chat.say(ZHAO, "/follow BB-20261123-0001 助理回访"), ZHAO).text


async def test_appointment_and_pending_reminders_are_sent_once_at_their_time(svc: Services) -> None:
    await open_office(svc)
    await Chat(svc).say(LI, report_text())  # appointment 2026-11-24 15:00, reported 11-23 10:00
    pending = await sweep_at(svc, "2026-11-23 10:30")
    assert any("待确认超过 30 分钟" in t for t in texts(pending, GROUP))
    assert sent(pending, GROUP)[0].buttons  # the assistant can confirm from the reminder
    assert await sweep_at(svc, "2026-11-23 10:31") == []
    day = await sweep_at(svc, "2026-11-24 09:00")
    assert any("今天有预约到访" in t for t in texts(day, LI))
    soon = await sweep_at(svc, "2026-11-24 13:00")
    assert any("还有约2小时" in t for t in texts(soon, LI))
    assert await sweep_at(svc, "2026-11-24 13:00") == []


async def test_reminders_due_while_the_bot_was_down_are_sent_once_at_the_next_sweep(svc: Services) -> None:
    await open_office(svc)
    await Chat(svc).say(LI, report_text())
    late = await sweep_at(svc, "2026-11-24 14:00")  # down from 10:00 yesterday until now
    assert len([t for t in texts(late, LI) if "今天有预约到访" in t or "约在" in t]) == 2
    assert await sweep_at(svc, "2026-11-24 14:01") == []


async def test_the_evening_digest_counts_the_day_and_lists_what_expires_tomorrow(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc).at("2026-11-23 10:00")
    card = only(await chat.say(LI, report_text()), GROUP)
    await chat.say(WANG, report_text(team="猛虎队", who="王五"))
    await chat.press(ZHAO, card, "确认")
    await sweep_at(svc, "2026-11-23 20:59")
    assert not any("日报" in t for t in texts(await sweep_at(svc, "2026-11-23 20:59"), GROUP))
    digest = [t for t in texts(await sweep_at(svc, "2026-11-23 21:00"), GROUP) if "日报" in t]
    assert len(digest) == 1
    assert "报备：1 组" in digest[0] and "撞单被拒：1 次" in digest[0] and "确认：1" in digest[0]
    assert "明天没有到期的报备" in digest[0]
    assert not any("日报" in t for t in texts(await sweep_at(svc, "2026-11-23 21:30"), GROUP))
    eve = next((t for t in texts(await sweep_at(svc, "2026-11-29 21:00"), GROUP) if "日报" in t), "no digest")
    assert "明天到期（1 组）" in eve and "BB-20261123-0001" in eve


async def test_quiet_hours_hold_a_reminder_until_eight(svc: Services) -> None:
    await open_office(svc)
    await Chat(svc).at("2026-11-23 21:00").say(LI, report_text(when="明天上午9点"))  # 2 h before: 07:00
    assert sent(await sweep_at(svc, "2026-11-24 07:00"), LI) == []
    assert any("约在" in t for t in texts(await sweep_at(svc, "2026-11-24 08:00"), LI))
