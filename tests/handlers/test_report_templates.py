"""Reports as canvassers already write them (issue 22), through the router: their templates get receipts,
group chatter gets nothing, the 项目 line picks the project, and a refusal coaches field by field."""

from __future__ import annotations

import pytest

from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from tests.conftest import local
from tests.office import GROUP, LI, Chat, only, open_office
from tests.rules.report_corpus_unseen import CHATTER

pytestmark = pytest.mark.usefixtures("both_paths")

# A template of another project's group, as the issue quotes it (with this office's names and a 前三后五 mask).
THEIR_TEMPLATE = """【客户报备】
客户姓名：张先生
客户联系方式：138xxx88888
客户预计到访时间：2026/11/24 17:20
渠道公司：飞虎队
渠道专员姓名：李四
物业类型：住宅
到访人数：2人"""


async def test_a_template_the_team_already_uses_gets_a_receipt(svc: Services) -> None:
    await open_office(svc)
    receipt = only(await Chat(svc).say(LI, THEIR_TEMPLATE), LI).text
    assert "回执号：BB-20261123-0001" in receipt and "138***88888" in receipt
    assert "预约到访：11月24日(周二) 17:20" in receipt


async def test_in_a_private_chat_a_template_without_a_header_is_a_report(svc: Services) -> None:
    await open_office(svc)
    text = THEIR_TEMPLATE.split("\n", 1)[1]
    assert "回执号" in only(await Chat(svc).say(LI, text), LI).text


async def test_group_chatter_is_never_answered_as_a_report(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    for line in CHATTER[:40]:
        assert await chat.say(LI, line, group=GROUP) == [], line


async def test_a_four_digit_suffix_is_refused_saying_the_policy_needs_five(svc: Services) -> None:
    await open_office(svc)
    refusal = only(await Chat(svc).say(LI, THEIR_TEMPLATE.replace("138xxx88888", "138xxxx8888")), LI).text
    assert "【电话】" in refusal and "后 5 位" in refusal
    assert "客户 ✓ 张先生" in refusal and "电话 ✗" in refusal and "拓客 ✓ 李四" in refusal
    assert "到访时间 ✓ 11月24日(周二) 17:20" in refusal  # what was understood, so one thing is fixed


async def test_a_refusal_marks_what_is_missing(svc: Services) -> None:
    await open_office(svc)
    refusal = only(await Chat(svc).say(LI, "报备\n客户：张先生\n电话：138***88888\n拓客：李四\n到访：明天下午3点"), LI).text
    assert "队名 ？" in refusal and "客户 ✓ 张先生" in refusal


async def test_the_project_line_picks_the_project_of_a_sender_without_a_default(svc: Services) -> None:
    await open_office(svc)
    now = local("2026-11-23 09:00")
    await directory.add_project(svc.db, "江湾壹号", "-100777", None, now)
    await directory.add_staff(svc.db, NewStaff("钱七", "飞虎队", "canvasser", "107"), now)  # no default project
    chat = Chat(svc)
    body = "报备\n客户：刘女士\n电话：139***12345\n队名：飞虎队\n拓客：钱七\n到访：明天下午3点"
    assert "项目" in only(await chat.say("107", body), "107").text  # which project? it cannot tell
    actions = await chat.say("107", body + "\n项目：江湾壹号")
    assert "回执号" in only(actions, "107").text
    assert only(actions, "-100777").text.startswith("📋 新报备")  # the card went to 江湾壹号's group
