"""/export: the scripted week's ledger as an .xlsx that openpyxl opens, cells of the right values and types."""

from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from reportbot.handlers.context import Services
from reportbot.handlers.messages import SendDocument
from reportbot.rules.policy import Policy
from tests.manager_week import WEEK_POLICY, scripted_week
from tests.office import CHEN, GROUP, ZHAO, only, sent

SHEETS = ["报备", "到访判客", "撞单被拒", "提醒发送", "成交", "事件记录"]
WHOLE_NUMBER = re.compile(r"1[3-9]\d{9}")


@pytest.fixture
def policy() -> Policy:
    return WEEK_POLICY


def rows(book: Workbook, sheet: str) -> list[dict[str, object]]:
    ws = book[sheet]
    header = [c.value for c in ws[1]]
    return [dict(zip(header, values, strict=True)) for values in ws.iter_rows(min_row=2, values_only=True)]


async def exported(svc: Services, args: str = "week") -> tuple[SendDocument, Workbook]:
    chat = await scripted_week(svc)
    [document] = [a for a in await chat.say(CHEN, f"/export {args}") if isinstance(a, SendDocument)]
    data = await document.data()
    assert data is not None
    return document, load_workbook(io.BytesIO(data))


async def test_the_workbook_has_one_sheet_per_table_with_a_frozen_header_and_fitted_columns(svc: Services) -> None:
    document, book = await exported(svc)
    assert document.chat_id == CHEN and document.filename == "报备台账-森林半岛-20261123-20261129.xlsx"
    assert book.sheetnames == SHEETS
    for ws in book:
        assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    reports = book["报备"]
    assert reports.column_dimensions["A"].width == len("BB-20261123-0001") + 2  # the receipt column fits it
    assert reports.column_dimensions["C"].width == 8  # 客户 (4) and 孙先生 (6), plus 2
    assert "报备 6 条，到访 3，撞单被拒 2，成交 2" in document.caption


async def test_report_rows_hold_real_local_dates_and_their_status_history(svc: Services) -> None:
    _, book = await exported(svc)
    reports = rows(book, "报备")
    assert [r["回执号"] for r in reports] == ["BB-20261123-0001", "BB-20261123-0002", "BB-20261123-0003",
                                          "BB-20261125-0001", "BB-20261125-0002", "BB-20261127-0001"]
    first = reports[0]
    assert first["报备时间"] == datetime(2026, 11, 23, 9, 0) and isinstance(first["预约到访"], datetime)
    assert first["有效期至"] == datetime(2026, 11, 24, 23, 59)
    assert (first["客户"], first["电话"], first["队名"], first["拓客"], first["状态"]) == (
        "张先生", "138***00001", "飞虎队", "李四", "已到访")
    assert first["状态记录"] == ("11-23 09:00 报备（李四）；11-23 09:00 确认（赵敏）；11-24 15:00 到访（赵敏）；"
                             "11-24 15:10 成交（赵敏）")
    assert book["报备"]["B2"].number_format == "yyyy-mm-dd hh:mm" and book["报备"]["B2"].is_date
    rejected = reports[2]
    assert rejected["状态"] == "已驳回" and rejected["驳回原因"] == "格式错误" and rejected["处理人"] == "赵敏"
    rereport = reports[3]
    assert (rereport["拓客"], rereport["队名"], rereport["重报原因"]) == ("孙七", "飞虎队", "客户出差")
    assert "11-27 00:00 失效（孙七）" in str(rereport["状态记录"])
    assert reports[4]["队名"] == "猛虎队"  # filed after the move


async def test_visits_duplicates_deals_reminders_and_events_are_listed(svc: Services) -> None:
    _, book = await exported(svc)
    visits = rows(book, "到访判客")
    assert [(v["电话"], v["判客依据"], v["当前归属"], v["带客人"]) for v in visits] == [
        ("138***00001", "报备在先", "李四", None), ("150***00004", "带客上门", "王五", "王五"),
        ("151***00005", "自然来访", "案场", None)]
    assert visits[0]["同行人数"] == 0 and isinstance(visits[0]["同行人数"], int)
    duplicates = rows(book, "撞单被拒")
    assert [(d["被拒拓客"], d["所在队"], d["在先队名"]) for d in duplicates] == [("王五", "猛虎队", "飞虎队"),
                                                                           ("李四", "飞虎队", "猛虎队")]
    deals = rows(book, "成交")
    assert [(d["电话"], d["归属人"], d["归属队"], d["备注"]) for d in deals] == [
        ("138***00001", "李四", "飞虎队", "认购3号楼"), ("151***00005", "案场", None, None)]
    reminders = rows(book, "提醒发送")
    assert reminders and all(isinstance(r["发送时间"], datetime) for r in reminders)
    assert {"失效通知", "待确认提醒"} <= {r["类型"] for r in reminders}
    events = rows(book, "事件记录")
    assert events[0]["时间"] == datetime(2026, 11, 23, 9, 0) and events[-1]["事件"] == "成交"
    assert all(datetime(2026, 11, 23) <= e["时间"] < datetime(2026, 11, 30) for e in events)  # type: ignore[operator]


async def test_no_cell_shows_a_whole_phone_number(svc: Services) -> None:
    chat = await scripted_week(svc)
    await chat.say(ZHAO, "/follow 138***00001 客户说打 13912345678 找他")
    [document] = [a for a in await chat.say(CHEN, "/export week") if isinstance(a, SendDocument)]
    data = await document.data()
    assert data is not None
    book = load_workbook(io.BytesIO(data))
    cells = [str(c) for ws in book for r in ws.iter_rows(values_only=True) for c in r if c is not None]
    assert any("139***45678" in c for c in cells)
    assert not [c for c in cells if WHOLE_NUMBER.search(c)]


async def test_asked_in_the_group_the_ledger_goes_to_the_manager_privately(svc: Services) -> None:
    chat = await scripted_week(svc)
    actions = await chat.say(CHEN, "/export", group=GROUP)
    assert "台账已私信发给 陈经理" in only(actions, GROUP).text
    [document] = [a for a in actions if isinstance(a, SendDocument)]
    assert document.chat_id == CHEN and document.filename.endswith("-20261101-20261130.xlsx")  # the month by default


async def test_an_empty_period_still_gives_every_sheet_with_its_header(svc: Services) -> None:
    _, book = await exported(svc, "2026-10-01..2026-10-31")
    assert book.sheetnames == SHEETS and all(ws.max_row == 1 for ws in book)
    assert [c.value for c in book["成交"][1]] == ["成交时间", "电话", "归属人", "归属队", "登记人", "备注"]


async def test_an_assistant_may_not_export(svc: Services) -> None:
    chat = await scripted_week(svc)
    actions = await chat.say(ZHAO, "/export week")
    assert "/export 只有经理及以上可以使用" in only(actions, ZHAO).text and sent(actions, CHEN) == []
    assert not [a for a in actions if isinstance(a, SendDocument)]
