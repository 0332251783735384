"""Issue 27: reading the spreadsheets offices keep — a title above the header, merged header cells, a team
merged down its rows, Excel dates and text dates, full-width digits, trailing blanks; CSV in UTF-8 with
a byte-order mark and in GBK."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook

from reportbot.documents.sheet_file import REPORTS_SHEET, SheetError, read_table, template_workbook
from reportbot.rules.import_columns import (
    COLUMN_NAMES,
    TEMPLATE_COLUMNS,
    Column,
    Header,
    find_header,
    under_header,
)
from reportbot.rules.import_rows import Directory, Row, read_rows, template_example
from reportbot.rules.model import Role, Staff, Status
from reportbot.rules.policy import Policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)
STAFF = Directory((Staff(1, "李四", "飞虎队", Role.CANVASSER, None), Staff(2, "王五", "雄鹰队", Role.CANVASSER, None)))


def office_workbook() -> bytes:
    """As an assistant keeps it: a title merged over the row, a group row, a team merged down two rows."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "11月"
    ws.append(["森林半岛渠道报备台账（2026年11月）"])
    ws.merge_cells("A1:H1")
    ws.append(["序号", "客户信息", None, "渠道信息", None, "报备时间", "预约到访时间", "备注"])
    ws.merge_cells("B2:C2")
    ws.merge_cells("D2:E2")
    for column in "AFGH":
        ws.merge_cells(f"{column}2:{column}3")
    ws.append([None, "客户姓名 ", "联系电话", "渠道", "经纪人"])
    ws.append([1, "张先生 ", "138***88888", "飞虎队", "李四", datetime(2026, 11, 3, 14, 0), "2026/11/5 15:00", "带父母 "])
    ws.append([2, "刘女士", "１３９＊＊＊１２３４５", None, "李四", "2026/11/3 14:00", None, None])
    ws.merge_cells("D4:D5")  # the team, written once for its rows
    ws.append([3, "陈先生", "137 *** 22222", "雄鹰队", "王五", 46329.625, datetime(2026, 11, 6, 10, 30), "  "])
    ws.append([None, None, None, None, None, None, None, "   "])  # trailing blanks below the table
    ws.append([])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_of(data: bytes, name: str) -> list[Row]:
    table = read_table(data, name)
    header = find_header([cells for _, cells in table.rows])
    assert isinstance(header, Header), header
    read, problems, _ = read_rows(under_header(header, table.rows), STAFF, Policy(), NOW)  # type: ignore[arg-type]
    assert problems == []
    return read


def test_an_office_workbook_is_read_right() -> None:
    table = read_table(office_workbook(), "台账.xlsx")
    assert table.sheet == "11月" and [line for line, _ in table.rows] == [1, 2, 3, 4, 5, 6]
    read = rows_of(office_workbook(), "台账.xlsx")
    assert [(r.line, r.customer, r.phone.masked, r.team, r.canvasser, r.reported_at) for r in read] == [
        (4, "张先生", "138***88888", "飞虎队", "李四", datetime(2026, 11, 3, 14, 0, tzinfo=SHANGHAI)),
        (5, "刘女士", "139***12345", "飞虎队", "李四", datetime(2026, 11, 3, 14, 0, tzinfo=SHANGHAI)),
        (6, "陈先生", "137***22222", "雄鹰队", "王五", datetime(2026, 11, 3, 15, 0, tzinfo=SHANGHAI)),
    ]
    assert [(r.appointment_at, r.note) for r in read] == [
        (datetime(2026, 11, 5, 15, 0, tzinfo=SHANGHAI), "带父母"), (None, None),
        (datetime(2026, 11, 6, 10, 30, tzinfo=SHANGHAI), None)]


def test_the_exports_reports_sheet_is_read_when_there_is_one() -> None:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "说明"
    first.append(["这不是报备"])
    reports = book.create_sheet(REPORTS_SHEET)
    reports.append(["回执号", "报备时间", "客户", "电话", "队名", "拓客", "状态"])
    reports.append(["BB-20261103-0001", datetime(2026, 11, 3, 14, 0), "张先生", "138***88888", "飞虎队", "李四", "已失效"])
    out = io.BytesIO()
    book.save(out)
    [row] = rows_of(out.getvalue(), "x.xlsx")
    assert (row.receipt_no, row.status) == ("BB-20261103-0001", Status.EXPIRED)


CSV = "客户,电话,队名,拓客,报备时间,状态\r\n张先生,138***88888,飞虎队,李四,2026/11/3 14:00,有效\r\n\r\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "utf-8"])
def test_a_csv_is_read_in_utf8_with_a_bom_and_in_gbk(encoding: str) -> None:
    [row] = rows_of(CSV.encode(encoding), "台账.csv")
    assert (row.line, row.customer, row.team, row.status) == (2, "张先生", "飞虎队", Status.CONFIRMED)


def test_a_file_that_is_no_spreadsheet_says_so() -> None:
    with pytest.raises(SheetError, match="xlsx"):
        read_table(b"PK\x03\x04 not really a zip", "a.xlsx")
    with pytest.raises(SheetError, match=".xls"):
        read_table(b"\xd0\xcf\x11\xe0", "old.xls")
    with pytest.raises(SheetError, match="GBK"):
        read_table(b"\xff\xfe\xfa\xfb\x81\x30", "a.csv")


def test_the_template_has_the_columns_and_an_example_row_that_the_import_skips() -> None:
    headers = [COLUMN_NAMES[c] for c in TEMPLATE_COLUMNS]
    example = template_example(NOW, Policy())
    dates = [TEMPLATE_COLUMNS.index(Column.REPORTED_AT), TEMPLATE_COLUMNS.index(Column.APPOINTMENT)]
    data = template_workbook(headers, example, dates, NOW)
    ws = load_workbook(io.BytesIO(data))[REPORTS_SHEET]
    assert [c.value for c in ws[1]] == headers and ws.freeze_panes == "A2"
    assert ws["E2"].is_date and ws["A2"].value == "张先生"
    table = read_table(data, "template.xlsx")
    header = find_header([cells for _, cells in table.rows])
    assert isinstance(header, Header)
    read, problems, skipped = read_rows(under_header(header, table.rows), STAFF, Policy(), NOW)  # type: ignore[arg-type]
    assert (read, problems, skipped) == ([], [], 1)
