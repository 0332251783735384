"""Issue 27, the pure part: a spreadsheet's header, its cells as times and statuses, a row as a report or
the problems in it (by line and column, in the report parser's words)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import reportbot
from reportbot.rules.import_columns import (
    COLUMN_NAMES,
    TEMPLATE_COLUMNS,
    Column,
    Header,
    HeaderProblem,
    column_of,
    find_header,
    under_header,
)
from reportbot.rules.import_rows import (
    EXAMPLE_NOTE,
    Directory,
    Row,
    RowProblem,
    read_row,
    read_rows,
    template_example,
)
from reportbot.rules.import_values import NO_TIME, UNREADABLE, from_serial, read_status, read_time
from reportbot.rules.model import RejectReason, Role, Staff, Status
from reportbot.rules.policy import Policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)
POLICY = Policy()
TEMPLATES = Path(reportbot.__file__).parent / "templates" / "refusals"
STAFF = Directory((
    Staff(1, "李四", "飞虎队", Role.CANVASSER, None),
    Staff(2, "王五", "雄鹰队", Role.CANVASSER, None),
    Staff(3, "赵助理", "案场", Role.ASSISTANT, None),
    Staff(4, "周六", "雄鹰队", Role.CANVASSER, None),
    Staff(5, "周六", "雄鹰队", Role.CANVASSER, None),
))


def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def cells(**given: object) -> dict[Column, object]:
    row: dict[Column, object] = {
        Column.CUSTOMER: "张先生", Column.PHONE: "138***88888", Column.TEAM: "飞虎队", Column.CANVASSER: "李四",
        Column.REPORTED_AT: "2026/11/3 14:00",
    }
    row.update({Column(k): v for k, v in given.items()})
    return row


def row_of(**given: object) -> Row:
    found = read_row(7, cells(**given), STAFF, POLICY, NOW)
    assert isinstance(found, Row), found
    return found


def problems_of(**given: object) -> list[tuple[int, Column, str]]:
    found = read_row(7, cells(**given), STAFF, POLICY, NOW)
    assert isinstance(found, list), found
    return [(p.line, p.column, p.refusal.code) for p in found]


# -- the header -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header, column", [
    ("客户", Column.CUSTOMER), ("客户姓名", Column.CUSTOMER), ("客户 姓名*", Column.CUSTOMER),
    ("联系电话", Column.PHONE), ("电话（必填）", Column.PHONE), ("客户手机号", Column.PHONE),
    ("渠道", Column.TEAM), ("所属团队", Column.TEAM), ("经纪人", Column.CANVASSER), ("姓名（行销）", Column.CANVASSER),
    ("报备时间", Column.REPORTED_AT), ("报备日期", Column.REPORTED_AT), ("预约到访", Column.APPOINTMENT),
    ("预约到访时间", Column.APPOINTMENT), ("预计到访时间", Column.APPOINTMENT), ("状态", Column.STATUS),
    ("备注", Column.NOTE), ("回执号", Column.RECEIPT), ("录入人", Column.FILED_BY), ("重报原因", Column.REASON),
    ("ＣＵＳＴＯＭＥＲ", Column.CUSTOMER),
])
def test_a_header_cell_is_read_by_the_parsers_labels_and_the_export_headers(header: str, column: Column) -> None:
    assert column_of(header) is column


@pytest.mark.parametrize("header", ["时间", "序号", "物业类型", "有效期至", "状态记录", None, 3])
def test_columns_nobody_listed_and_a_bare_time_are_left_alone(header: object) -> None:
    assert column_of(header) is None


def test_the_header_is_found_under_a_title_and_a_group_row() -> None:
    rows = [
        ["森林半岛渠道报备台账", "森林半岛渠道报备台账", None, None, None, None],
        ["序号", "客户信息", "客户信息", "渠道信息", "渠道信息", None],
        ["序号", "客户姓名", "联系电话", "渠道", "经纪人", "报备时间"],
        [1, "张先生", "138***88888", "飞虎队", "李四", "2026/11/3 14:00"],
    ]
    header = find_header(rows)
    assert header == Header(2, {1: Column.CUSTOMER, 2: Column.PHONE, 3: Column.TEAM, 4: Column.CANVASSER,
                                5: Column.REPORTED_AT})
    assert under_header(header, [(n, r) for n, r in enumerate(rows, start=1)]) == [
        (4, {Column.CUSTOMER: "张先生", Column.PHONE: "138***88888", Column.TEAM: "飞虎队", Column.CANVASSER: "李四",
             Column.REPORTED_AT: "2026/11/3 14:00"})]


def test_a_header_without_a_required_column_or_with_one_twice_is_a_problem() -> None:
    assert find_header([["客户", "电话", "队名", "拓客"]]) == HeaderProblem("missing", ("报备时间",))
    assert find_header([["客户", "电话", "手机", "队名", "拓客", "报备时间"]]) == HeaderProblem("twice", ("电话",))
    assert find_header([["甲", "乙"], ["1", "2"]]).code == "no_header"  # type: ignore[union-attr]


def test_the_template_columns_are_named_as_the_issue_lists_them() -> None:
    assert [COLUMN_NAMES[c] for c in TEMPLATE_COLUMNS] == [
        "客户", "电话", "队名", "拓客", "报备时间", "预约到访时间", "状态", "备注"]
    assert all(column_of(COLUMN_NAMES[c]) is c for c in Column)


# -- times and statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize("written, expected", [
    ("2026/11/3 14:00", at(11, 3, 14)), ("2026-11-03 14:00:00", at(11, 3, 14)), ("2026.11.3 14:00", at(11, 3, 14)),
    ("2026年11月3日 14时30分", at(11, 3, 14, 30)), ("2026-11-03T14:00", at(11, 3, 14)),
    ("２０２６／１１／３　１４：００", at(11, 3, 14)), ("2026/11/3 下午2:30", at(11, 3, 14, 30)),
    ("2026/11/3 2:30 PM", at(11, 3, 14, 30)), ("2026/11/3(周二) 14:00", at(11, 3, 14)),
    ("2026/11/3 14点半", at(11, 3, 14, 30)), ("  2026/11/3 14:00  ", at(11, 3, 14)),
    ("11/3 14:00", at(11, 3, 14)), ("12/6 10:00", at(12, 6, 10, year=2025)),  # no year: the latest not after now
    ("46329.5833333", at(11, 3, 14)),
])
def test_text_times_are_read_as_office_wall_time(written: str, expected: datetime) -> None:
    assert read_time(written, NOW) == expected


def test_excel_dates_and_serial_numbers_are_read_to_the_minute() -> None:
    assert read_time(datetime(2026, 11, 3, 14, 0, 59), NOW) == at(11, 3, 14)
    assert read_time(46329.58333333, NOW) == at(11, 3, 14)
    assert from_serial(46329.5) == datetime(2026, 11, 3, 12, 0)
    assert read_time(None, NOW) is None and read_time("  ", NOW) is None


@pytest.mark.parametrize("written, problem", [
    ("2026/11/3", NO_TIME), (date(2026, 11, 3), NO_TIME), ("昨天下午", UNREADABLE), ("2026/2/30 10:00", UNREADABLE),
    ("2026/11/3 25:00", UNREADABLE), (time(14, 0), UNREADABLE), (13812345678, UNREADABLE), (True, UNREADABLE),
])
def test_what_is_no_time_says_why(written: object, problem: str) -> None:
    assert read_time(written, NOW) == problem  # type: ignore[arg-type]


@pytest.mark.parametrize("written, status", [
    ("有效", Status.CONFIRMED), ("已到访", Status.VISITED), ("已失效", Status.EXPIRED), (" 待确认 ", Status.PENDING),
    ("已确认", Status.CONFIRMED), ("已驳回", Status.REJECTED), (None, None), ("", None),
])
def test_statuses_are_the_sheets_words_and_the_exports(written: str | None, status: Status | None) -> None:
    assert read_status(written) is status


# -- a row ------------------------------------------------------------------------------------------


def test_a_good_row_is_a_report_with_its_original_time() -> None:
    row = row_of(appointment="2026-11-05 15:00", status="有效", note="带父母 ")
    assert (row.line, row.customer, row.phone.masked, row.team, row.canvasser, row.canvasser_id) == (
        7, "张先生", "138***88888", "飞虎队", "李四", 1)
    assert (row.reported_at, row.appointment_at, row.status, row.note) == (
        at(11, 3, 14), at(11, 5, 15), Status.CONFIRMED, "带父母")


def test_full_width_digits_trailing_blanks_and_a_full_number_are_read_and_masked() -> None:
    row = row_of(customer="张先生 ", phone="１３８１２３４８８８８ ", team=" 飞虎队 ", canvasser="李四　",
                 note="另一个号码 13912345678")
    assert (row.customer, row.team, row.canvasser) == ("张先生", "飞虎队", "李四")
    assert row.phone.masked == "138***48888" and row.phone.was_full
    assert row.note == "另一个号码 139***45678"


def test_a_phone_typed_into_a_number_cell_is_read_as_its_digits() -> None:
    assert row_of(phone=13812348888.0).phone.masked == "138***48888"


def test_an_unregistered_canvasser_of_a_known_team_is_kept_by_name_and_flagged() -> None:
    row = row_of(canvasser="孙七")
    assert row.canvasser == "孙七" and row.canvasser_id is None and not row.registered


@pytest.mark.parametrize("given, column, code", [
    ({"phone": ""}, Column.PHONE, "phone_missing"),
    ({"phone": "138****8888"}, Column.PHONE, "phone_suffix_short"),  # 前三后四 under the default 前三后五
    ({"team": "猎豹队"}, Column.TEAM, "import_team_unknown"),
    ({"reported_at": "2026/12/6 10:00"}, Column.REPORTED_AT, "import_reported_at_future"),
    ({"reported_at": ""}, Column.REPORTED_AT, "import_reported_at_missing"),
    ({"reported_at": "2026/11/3"}, Column.REPORTED_AT, "import_time_no_time"),
    ({"reported_at": "上周三"}, Column.REPORTED_AT, "import_time_unrecognised"),
    ({"customer": "张3"}, Column.CUSTOMER, "customer_digits"),
    ({"status": "跟进中"}, Column.STATUS, "import_status_unknown"),
    ({"appointment": "2026/11/2 10:00"}, Column.APPOINTMENT, "import_appointment_before_report"),
    ({"team": "雄鹰队", "canvasser": "周六"}, Column.CANVASSER, "import_canvasser_ambiguous"),
])
def test_a_bad_row_is_refused_by_line_and_column(given: dict[str, object], column: Column, code: str) -> None:
    assert problems_of(**given) == [(7, column, code)]
    assert (TEMPLATES / f"{code}.j2").exists()


def test_every_problem_of_a_row_is_named_not_only_the_first() -> None:
    assert [c for _, c, _ in problems_of(phone="", team="猎豹队", reported_at="")] == [
        Column.PHONE, Column.REPORTED_AT, Column.TEAM]


def test_an_exported_row_brings_back_its_receipt_filer_decider_and_reasons() -> None:
    row = row_of(receipt="BB-20261103-0007", filed_by="赵助理", decided_by="赵助理", decided_at="2026-11-03 14:10",
                 status="已驳回", reject_reason="信息不实", reason="客户出差")
    assert (row.receipt_no, row.filed_by_id, row.decided_by_id, row.decided_at) == (
        "BB-20261103-0007", 3, 3, at(11, 3, 14, 10))
    assert (row.status, row.reject_reason, row.reason) == (Status.REJECTED, RejectReason.FALSE_INFO, "客户出差")
    assert row_of(receipt="2026110301").receipt_no is None  # another system's numbering: a new number here


def test_empty_rows_and_the_templates_example_are_skipped_and_counted() -> None:
    example = dict(zip(TEMPLATE_COLUMNS, template_example(NOW, POLICY), strict=True))
    assert example[Column.NOTE] == EXAMPLE_NOTE
    rows = [(3, example), (4, {Column.CUSTOMER: " ", Column.PHONE: None}), (5, cells()), (6, cells(phone=""))]
    read, problems, skipped = read_rows(rows, STAFF, POLICY, NOW)  # type: ignore[arg-type]
    assert [r.line for r in read] == [5] and skipped == 2
    assert problems == [RowProblem(6, Column.PHONE, problems[0].refusal)]
