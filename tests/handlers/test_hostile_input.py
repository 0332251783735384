"""Hostile input gets a clear answer and changes nothing: never a crash, never a stored report."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from sqlalchemy import func, select

from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Action, Alert, Edit, Press, Send
from reportbot.rules import privacy
from reportbot.rules.model import EventKind
from reportbot.storage.tables import EventRow, FollowUpRow, ReportRow, VisitRow
from tests.conftest import local
from tests.fuzz import PEOPLE, TELEGRAM_MAX, callback_data, chat_message, fuzz_settings, mark
from tests.office import GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text

pytestmark = mark

pytestmark = pytest.mark.usefixtures("both_paths")

NASTY = [
    "报备 " + "客" * 4090,
    "报备 客户：" + "张" * 3000 + " 电话：138***88888 队名：飞虎队 拓客：李四 到访：明天下午3点",
    "报备 客户：张先生'; DROP TABLE report; -- 电话：138***88888 队名：飞虎队 拓客：李四 到访：明天下午3点",
    "报备 客户：\u202e张先生\u202c 电话：138***88888 队名：飞虎队 拓客：李四 到访：明天下午3点",
    "报备 客户：😀😀 电话：138***88888 队名：飞虎队 拓客：李四 到访：明天下午3点",
    "报备 客户：张\x00\x07先生 电话：138\x1b***88888 队名：飞虎队 拓客：李四 到访：明天下午3点",
    "/who " + "1" * 4000,
    "/who ' OR 1=1 --",
    "/visit " + "*" * 4000,
    "/follow BB-20261123-0001 " + "很" * 4000,
    "/" + "a" * 4095,
    "/who 张\x00先生",  # PostgreSQL cannot store or even compare NUL
    "/follow BB-20261123-0001 回访\x00完成\ud800",
    "/release 138***88888 原因：" + "长" * 4000,
]


@pytest.mark.parametrize("text", NASTY, ids=range(len(NASTY)))
async def test_nasty_messages_get_one_clear_answer(svc: Services, text: str) -> None:
    await open_office(svc)
    for user in (LI, ZHAO):
        reply = only(await Chat(svc).say(user, text), user).text
        assert reply and len(reply) < 4096


async def test_an_sql_looking_customer_name_is_stored_as_typed_and_nothing_else_happens(svc: Services) -> None:
    await open_office(svc)
    name = "张'; DROP--"
    await Chat(svc).say(LI, f"报备 客户：{name} 电话：138***88888 队名：飞虎队 拓客：李四 到访：明天下午3点")
    async with svc.db.uow(write=False) as uow:
        reports = await uow.reports.by_phone([1], "138***88888")
    assert [r.customer for r in reports] in ([name], [])


CANONICAL = re.compile(r"1[3-9][0-9]\*{3}[0-9]{5}")
@pytest.mark.parametrize("data", ["rb1:c:999999999999999999", "rb1:x:2147483648:dup", "rb1:c:abc", "", None, 42,
                                  "rg1:c:999999999999999999:1", "rg1:a:2147483648", "rg1:c:7:1", "rg1:x:1:1:nosuch"])
async def test_forged_button_data_is_answered_as_a_stale_button(svc: Services, data: object) -> None:
    await open_office(svc)
    press = Press("console", ZHAO, GROUP, "1", data, local("2026-11-23 11:00"))  # type: ignore[arg-type]
    [alert] = await handle_press(press, svc)
    assert isinstance(alert, Alert) and "按钮" in alert.text


PAIRS = [(ReportRow, EventKind.REPORTED), (VisitRow, EventKind.VISITED), (FollowUpRow, EventKind.FOLLOWED_UP)]


async def _has_office(svc: Services) -> bool:
    async with svc.db.uow(write=False) as uow:
        return bool(await uow.projects.all())


def _outcome(actions: list[Action]) -> str:
    """The gist of the answer: the first line of the last message (a group's notice comes before the card)."""
    texts = [a.text for a in actions if isinstance(a, Send)]
    return texts[-1].split("\n", 1)[0][:8] if texts else "(silence)"


def assert_sound(actions: list[Action]) -> None:
    """Every answer is a non-empty text that Telegram takes, and shows no whole phone number."""
    for action in actions:
        if isinstance(action, Send | Edit):
            assert action.text and len(action.text) <= TELEGRAM_MAX
            assert not privacy.contains_full_number(action.text)


async def assert_no_partial_record(svc: Services) -> None:
    """Each stored row has its event (and the other way round); the newest report is clean."""
    async with svc.db.uow(write=False) as uow:
        session = uow.session
        for table, kind in PAIRS:
            rows = (await session.execute(select(func.count()).select_from(table))).scalar_one()
            events = (await session.execute(select(func.count()).where(EventRow.kind == kind.value))).scalar_one()
            assert rows == events, (table.__tablename__, rows, events)
        decided = (await session.execute(
            select(func.count()).where(ReportRow.status.in_(["confirmed", "rejected"])))).scalar_one()
        decisions = (await session.execute(
            select(func.count()).where(EventRow.kind.in_(["confirmed", "rejected"])))).scalar_one()
        assert decided <= decisions
        newest = (await session.execute(
            select(ReportRow.phone, ReportRow.customer, ReportRow.note, ReportRow.reason)
            .order_by(ReportRow.id.desc()).limit(1))).first()
    if newest is not None:
        phone, *texts = newest
        assert CANONICAL.fullmatch(phone) or privacy.is_tombstone(phone)
        assert not any(privacy.contains_full_number(t or "") or "\x00" in (t or "") for t in texts)


@fuzz_settings(default=40)
@given(message=chat_message(), minutes=st.integers(0, 20 * 24 * 60))
async def test_any_message_from_anyone_anywhere_is_answered_soundly_and_leaves_no_partial_record(
    svc: Services, message: tuple[str, str, str | None], minutes: int
) -> None:
    user, text, where = message
    if not await _has_office(svc):
        await open_office(svc)
    chat = Chat(svc)
    chat.now = local("2026-11-23 00:00") + timedelta(minutes=minutes)
    actions = await chat.say(user, text, group=where)
    assert_sound(actions)
    await assert_no_partial_record(svc)
    event(_outcome(actions))  # --hypothesis-show-statistics shows how deep the inputs reached


@fuzz_settings(default=40)
@given(data=callback_data(), user=st.sampled_from(PEOPLE), message_id=st.text(max_size=12))
async def test_any_button_data_from_anyone_is_answered_and_decides_at_most_a_pending_report(
    svc: Services, data: object, user: str, message_id: str
) -> None:
    if not await _has_office(svc):
        await open_office(svc)
        chat = Chat(svc)
        await chat.say(LI, report_text())
        await chat.say(WANG, report_text(customer="钱女士", phone="139***12345", team="猛虎队", who="王五"))
    press = Press("console", user, GROUP, message_id, data, local("2026-11-23 11:00"))  # type: ignore[arg-type]
    actions = await handle_press(press, svc)
    assert any(isinstance(a, Alert) for a in actions)
    assert_sound(actions)
    await assert_no_partial_record(svc)

