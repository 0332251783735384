"""Hostile input gets a clear answer and changes nothing: never a crash, never a stored report."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Send
from tests.office import GROUP, LI, ZHAO, Chat, only, open_office

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
]


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300), in_group=st.booleans())
async def test_any_text_from_anyone_never_crashes_the_bot(svc: Services, text: str, in_group: bool) -> None:
    if not await _has_office(svc):
        await open_office(svc)
    for prefix in ("", "报备 ", "/who ", "/visit "):
        actions = await Chat(svc).say(ZHAO, prefix + text, group=GROUP if in_group else None)
        assert all(isinstance(a.text, str) for a in actions if isinstance(a, Send))


async def _has_office(svc: Services) -> bool:
    async with svc.db.uow(write=False) as uow:
        return bool(await uow.projects.all())
