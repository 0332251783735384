"""Issue 27, the pure part: first come by the original report time inside the file, the ledger's live
reports stand, statuses and validity from the policy, receipt numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from reportbot.rules.import_plan import ConflictKind, LedgerCustomer, plan_import, receipt_days
from reportbot.rules.import_rows import Row
from reportbot.rules.model import Status
from reportbot.rules.phone import Phone
from reportbot.rules.policy import Policy

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=SHANGHAI)
POLICY = Policy()


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def row(line: int, reported_at: datetime, *, phone: str = "138***88888", team: str = "飞虎队", canvasser: str = "李四",
        canvasser_id: int | None = 1, status: Status | None = None, receipt: str | None = None,
        appointment: datetime | None = None) -> Row:
    return Row(line=line, customer="张先生", phone=Phone(phone, was_full=False), team=team, canvasser=canvasser,
               canvasser_id=canvasser_id, reported_at=reported_at, appointment_at=appointment, status=status, note=None,
               receipt_no=receipt)


def plan(rows: list[Row], ledger: dict[str, LedgerCustomer] | None = None, taken: set[str] | None = None,
         last: dict[str, int] | None = None, policy: Policy = POLICY):  # type: ignore[no-untyped-def]
    return plan_import(rows, ledger or {}, taken or set(), last or {}, policy, NOW)


def test_one_customer_reported_by_two_teams_goes_to_the_earlier_report_time_not_the_earlier_line() -> None:
    later = row(2, at(12, 1, 10), team="雄鹰队", canvasser="王五", canvasser_id=2)
    earlier = row(9, at(12, 1, 9, 59))
    result = plan([later, earlier])
    assert [p.row.line for p in result.planned] == [9]
    [conflict] = result.conflicts
    assert (conflict.row.line, conflict.kind, conflict.holder_line, conflict.holder_team) == (
        2, ConflictKind.FILE_EARLIER, 9, "飞虎队")


def test_the_same_minute_goes_to_the_earlier_line_and_the_same_canvasser_again_is_a_repeat() -> None:
    result = plan([row(3, at(12, 1, 10)), row(4, at(12, 1, 10), team="雄鹰队", canvasser_id=2), row(5, at(12, 2, 10))])
    assert [p.row.line for p in result.planned] == [3]
    assert [(c.row.line, c.kind) for c in result.conflicts] == [
        (4, ConflictKind.FILE_EARLIER), (5, ConflictKind.FILE_REPEAT)]


def test_a_customer_reported_again_after_the_first_report_expired_is_history_not_a_conflict() -> None:
    first, second = row(2, at(11, 1, 10)), row(3, at(11, 20, 10), team="雄鹰队", canvasser_id=2)
    result = plan([second, first])
    assert [(p.row.line, p.status) for p in result.planned] == [(2, Status.EXPIRED), (3, Status.EXPIRED)]
    assert result.conflicts == ()


def test_validity_runs_from_the_original_time_and_a_live_row_is_confirmed_unless_it_says_pending() -> None:
    result = plan([row(2, at(11, 27, 23, 59)), row(3, at(11, 28, 0, 0), phone="139***11111"),
                   row(4, at(12, 4, 10), phone="137***22222", status=Status.PENDING)])
    got = {p.row.line: (p.status, p.valid_until) for p in result.planned}
    assert got[2] == (Status.EXPIRED, at(12, 5, 0))  # its 7 days ended at midnight before now
    assert got[3] == (Status.CONFIRMED, at(12, 6, 0))
    assert got[4] == (Status.PENDING, at(12, 12, 0))


def test_a_visit_in_the_sheet_holds_the_customer_and_takes_the_appointment_as_its_time() -> None:
    visited = row(2, at(11, 1, 10), status=Status.VISITED, appointment=at(11, 2, 15))
    result = plan([visited, row(3, at(11, 20, 10), team="雄鹰队", canvasser_id=2)])
    [planned] = result.planned
    assert (planned.status, planned.visit_at) == (Status.VISITED, at(11, 2, 15))
    assert [c.kind for c in result.conflicts] == [ConflictKind.FILE_VISITED]


def test_a_rejected_row_holds_nothing() -> None:
    result = plan([row(2, at(12, 1, 10), status=Status.REJECTED), row(3, at(12, 1, 11), team="雄鹰队", canvasser_id=2)])
    assert [(p.row.line, p.status) for p in result.planned] == [(2, Status.REJECTED), (3, Status.CONFIRMED)]


def test_the_ledgers_live_report_stands_whatever_the_files_time() -> None:
    ledger = {"138***88888": LedgerCustomer("BB-20261203-0001", "雄鹰队", at(12, 3, 9), at(12, 3, 9))}
    result = plan([row(2, at(12, 1, 10)), row(3, at(12, 1, 10), phone="139***11111")], ledger)
    assert [p.row.line for p in result.planned] == [3]
    [conflict] = result.conflicts
    assert (conflict.kind, conflict.holder_receipt, conflict.holder_team) == (
        ConflictKind.LEDGER_ACTIVE, "BB-20261203-0001", "雄鹰队")


def test_a_visited_or_public_customer_and_a_newer_history_in_the_ledger_are_conflicts() -> None:
    ledger = {"138***88888": LedgerCustomer(visited=True), "139***11111": LedgerCustomer(public=True),
              "137***22222": LedgerCustomer(latest_at=at(11, 20, 10)), "136***33333": LedgerCustomer(latest_at=at(11, 1, 9))}
    rows = [row(2, at(11, 10, 10)), row(3, at(11, 10, 10), phone="139***11111"),
            row(4, at(11, 10, 10), phone="137***22222"), row(5, at(11, 10, 10), phone="136***33333")]
    result = plan(rows, ledger)
    assert [(c.row.line, c.kind) for c in result.conflicts] == [
        (2, ConflictKind.LEDGER_VISITED), (3, ConflictKind.LEDGER_PUBLIC), (4, ConflictKind.LEDGER_NEWER)]
    assert [p.row.line for p in result.planned] == [5]


def test_a_row_at_the_same_minute_as_the_ledgers_report_is_the_same_report_imported_before() -> None:
    ledger = {"138***88888": LedgerCustomer("BB-20261201-0001", "飞虎队", at(12, 1, 10), at(12, 1, 10)),
              "139***11111": LedgerCustomer(latest_at=at(11, 1, 10))}
    result = plan([row(2, at(12, 1, 10)), row(3, at(11, 1, 10), phone="139***11111")], ledger)
    assert [(c.kind, c.holder_receipt) for c in result.conflicts] == [
        (ConflictKind.LEDGER_SAME, "BB-20261201-0001"), (ConflictKind.LEDGER_SAME, None)]


def test_a_customer_whose_reports_all_expired_becomes_public_and_later_rows_are_conflicts() -> None:
    policy = replace(POLICY, max_rereports=1)
    rows = [row(2, at(10, 1, 10)), row(3, at(10, 10, 10)), row(4, at(10, 20, 10))]
    result = plan(rows, policy=policy)
    assert [(p.row.line, p.public_at) for p in result.planned] == [(2, None), (3, at(10, 18, 0))]
    assert [(c.row.line, c.kind) for c in result.conflicts] == [(4, ConflictKind.FILE_PUBLIC)]


def test_receipt_numbers_are_kept_when_free_and_new_ones_follow_the_days_last_number() -> None:
    rows = [row(2, at(11, 3, 10), receipt="BB-20261103-0007"), row(3, at(11, 3, 11), phone="139***11111"),
            row(4, at(11, 3, 12), phone="137***22222", receipt="BB-20261103-0002"),
            row(5, at(11, 4, 12), phone="136***33333")]
    result = plan(rows, taken={"BB-20261103-0002"}, last={"20261104": 3})
    assert [(p.receipt_no, p.renumbered) for p in result.planned] == [
        ("BB-20261103-0007", False), ("BB-20261103-0008", False), ("BB-20261103-0009", True),
        ("BB-20261104-0004", False)]
    assert receipt_days(result) == {"20261103": 9, "20261104": 4}


def test_the_plan_is_in_report_time_order_and_counts_what_it_flags() -> None:
    rows = [row(2, at(12, 2, 10), canvasser="孙七", canvasser_id=None),
            replace(row(3, at(12, 1, 10), phone="139***11111"), phone=Phone("139***11111", was_full=True))]
    result = plan(rows)
    assert [p.row.line for p in result.planned] == [3, 2]
    assert [p.row.line for p in result.unregistered] == [2] and [p.row.line for p in result.masked] == [3]
    assert result.count(Status.CONFIRMED) == 2
