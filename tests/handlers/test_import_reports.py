"""Issue 27: `reportbot import reports` — the office's spreadsheet carried into the ledger, all rows or none,
first come by the original report time, the ledger's live reports standing, and the round trip through
/export. On SQLite and PostgreSQL (the ``svc`` fixture)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from datetime import datetime

from openpyxl import Workbook, load_workbook
from sqlalchemy import text

from reportbot.handlers.audit import verify_chain
from reportbot.handlers.context import Services
from reportbot.handlers.export import export_ledger
from reportbot.handlers.import_reports import ImportResult, import_reports
from reportbot.handlers.sweep import sweep
from reportbot.rules.model import EventKind, Status
from reportbot.rules.stats import parse_period
from tests.conftest import TABLES, local
from tests.office import CHEN, GROUP, LI, Chat, only, open_office, report_text

NOW = local("2026-11-23 10:00")


def office_workbook() -> bytes:
    """As an assistant keeps it: a title merged over the row, merged header cells, a team merged down its rows,
    Excel dates and text dates, full-width digits, trailing blanks."""
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["森林半岛渠道报备台账（2026年11月）"])
    ws.merge_cells("A1:H1")
    ws.append(["序号", "客户信息", None, "渠道信息", None, "报备时间", "预约到访时间", "备注"])
    ws.merge_cells("B2:C2")
    ws.merge_cells("D2:E2")
    for column in "AFGH":
        ws.merge_cells(f"{column}2:{column}3")
    ws.append([None, "客户姓名 ", "联系电话", "渠道", "经纪人"])
    ws.append([1, "张先生 ", "138***88888", "飞虎队", "李四", datetime(2026, 11, 20, 14, 0), "2026/11/24 15:00", "带父母 "])
    ws.append([2, "刘女士", "１３９＊＊＊１２３４５", None, "李四", "2026/11/3 14:00", None, None])
    ws.merge_cells("D4:D5")
    ws.append([3, "陈先生", "13722223333", "猛虎队", "王五", "2026/11/22 9:30", datetime(2026, 11, 23, 10, 30), "  "])
    ws.append([4, "孙先生", "136***44444", "猛虎队", "钱八", "2026/11/21 16:00", None, None])  # not registered
    ws.append([None, None, None, None, None, None, None, "   "])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def workbook(rows: list[list[object]], header: tuple[str, ...] = ("客户", "电话", "队名", "拓客", "报备时间", "状态")
             ) -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(list(header))
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def run(svc: Services, data: bytes, *, dry_run: bool = False, now: datetime = NOW, by: str | None = "陈经理",
              name: str = "台账.xlsx", project: str | None = None) -> ImportResult:
    return await import_reports(svc, project, name, data, by, now, dry_run=dry_run)


async def count(svc: Services, table: str) -> int:
    async with svc.db.uow(write=False) as uow:
        return int((await uow.session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_an_office_workbook_is_imported_with_original_times_policy_validity_and_receipts(svc: Services) -> None:
    await open_office(svc)
    data = office_workbook()
    result = await run(svc, data)
    assert result.done and result.problems == () and result.header_problem is None
    by_phone = {p.row.phone.masked: p for p in result.plan.planned}  # type: ignore[union-attr]
    assert set(by_phone) == {"138***88888", "139***12345", "137***23333", "136***44444"}
    async with svc.db.uow(write=False) as uow:
        [zhang] = await uow.reports.by_phone([1], "138***88888")
        [liu] = await uow.reports.by_phone([1], "139***12345")
        [chen] = await uow.reports.by_phone([1], "137***23333")
        [sun] = await uow.reports.by_phone([1], "136***44444")
    assert (zhang.customer, zhang.team, zhang.canvasser_name, zhang.note) == ("张先生", "飞虎队", "李四", "带父母")
    assert zhang.reported_at == local("2026-11-20 14:00") and zhang.appointment_at == local("2026-11-24 15:00")
    assert zhang.valid_until == local("2026-11-28 00:00") and zhang.status is Status.CONFIRMED
    assert zhang.receipt_no == "BB-20261120-0001"
    assert (liu.team, liu.status, liu.receipt_no) == ("飞虎队", Status.EXPIRED, "BB-20261103-0001")  # merged team
    assert chen.phone == "137***23333" and chen.reported_at == local("2026-11-22 09:30")  # the full number masked
    assert (sun.canvasser_name, sun.team) == ("钱八", "猛虎队")  # recorded by name, flagged
    assert [p.row.line for p in result.plan.unregistered] == [7]  # type: ignore[union-attr]
    summary = svc.render("import_summary.j2", r=result)
    assert "已导入 4 条报备" in summary and "第7行 钱八（猛虎队）" in summary and "第6行" in summary


async def test_the_import_is_one_audit_event_naming_the_files_sha256_and_the_person_and_the_chain_holds(
        svc: Services) -> None:
    await open_office(svc)
    data = office_workbook()
    await run(svc, data)
    async with svc.db.uow(write=False) as uow:
        history = await uow.events.history(1, "138***88888")
        imported = await uow.events.count(EventKind.IMPORTED)
    # The sheet names nobody who confirmed it: no confirmation is made up; the import event vouches for it.
    assert [(e.kind, e.at, e.actor_name) for e in history] == [(EventKind.REPORTED, local("2026-11-20 14:00"), "李四")]
    assert imported == 1
    async with svc.db.uow(write=False) as uow:
        detail = (await uow.session.execute(text("SELECT detail FROM event WHERE kind = 'imported'"))).scalar_one()
    assert hashlib.sha256(data).hexdigest() in detail and "台账.xlsx" in detail
    assert [problem for _, _, problem in await verify_chain(svc.db)] == [None]


async def test_bad_rows_are_refused_by_line_and_nothing_is_imported(svc: Services) -> None:
    await open_office(svc)
    data = workbook([
        ["张先生", "138***88888", "飞虎队", "李四", "2026/11/20 14:00", "有效"],
        ["刘女士", "", "飞虎队", "李四", "2026/11/20 14:00", None],
        ["陈先生", "137***2222", "飞虎队", "李四", "2026/11/20 14:00", None],
        ["孙先生", "136***44444", "猎豹队", "李四", "2026/11/20 14:00", None],
        ["周先生", "135***55555", "飞虎队", "李四", "2026/11/24 14:00", None],
    ])
    result = await run(svc, data)
    assert not result.done
    assert [(line, column) for line, column, _ in result.problems] == [
        (3, "电话"), (4, "电话"), (5, "队名"), (6, "报备时间")]
    sentences = [sentence for _, _, sentence in result.problems]
    assert "缺少客户电话" in sentences[0] and "后 5 位" in sentences[1] and "猎豹队" in sentences[2]
    assert "还没到" in sentences[3]
    assert await count(svc, "report") == 0 and await count(svc, "event") == 0
    summary = svc.render("import_summary.j2", r=result)
    assert "全部改好之前一条也不导入" in summary and "第4行【电话】" in summary


async def test_a_dry_run_shows_what_would_be_imported_refused_and_each_conflict_and_records_nothing(
        svc: Services) -> None:
    await open_office(svc)
    data = workbook([
        ["张先生", "138***88888", "猛虎队", "王五", "2026/11/20 15:00", None],
        ["张女士", "138***88888", "飞虎队", "李四", "2026/11/20 14:00", None],
        ["刘女士", "139***12345", "飞虎队", "李四", "2026/11/20 14:00", "已失效"],
    ])
    result = await run(svc, data, dry_run=True, by=None)
    assert not result.done and result.dry_run
    summary = svc.render("import_summary.j2", r=result)
    assert "试运行（什么都没有记录）：将导入 2 条报备" in summary
    assert "第3行 → BB-20261120-0001 张女士 138***88888 飞虎队/李四" in summary
    assert "第2行 张先生 138***88888（猛虎队/王五，2026-11-20 15:00）：与第3行撞单，飞虎队 2026-11-20 14:00 报备在先" in summary
    assert await count(svc, "report") == 0 and await count(svc, "event") == 0


async def test_a_live_report_in_the_ledger_stands_and_the_import_goes_on_without_that_row(svc: Services) -> None:
    await open_office(svc)
    card = only(await Chat(svc, "2026-11-22 09:00").say(LI, report_text()), GROUP)
    assert card
    data = workbook([
        ["张先生", "138***88888", "猛虎队", "王五", "2026/11/20 15:00", "有效"],
        ["刘女士", "139***12345", "猛虎队", "王五", "2026/11/20 14:00", None],
    ])
    result = await run(svc, data)
    assert result.done and [p.row.line for p in result.plan.planned] == [3]  # type: ignore[union-attr]
    [conflict] = result.plan.conflicts  # type: ignore[union-attr]
    assert (conflict.kind.value, conflict.holder_team) == ("ledger_active", "飞虎队")
    async with svc.db.uow(write=False) as uow:
        active = await uow.reports.active_for(1, "138***88888")
    assert active is not None and active.team == "飞虎队"


async def test_the_person_must_be_a_manager_and_the_file_must_have_a_header(svc: Services) -> None:
    await open_office(svc)
    assert (await run(svc, workbook([]), by=None)).refused == "by_missing"
    assert (await run(svc, workbook([]), by="李四")).refused == "by_not_allowed"
    assert (await run(svc, workbook([]), by="无名氏")).refused == "by_unknown"
    no_phone = await run(svc, workbook([["张先生"]], header=("客户", "队名", "拓客", "报备时间")))
    assert no_phone.header_problem is not None and no_phone.header_problem.columns == ("电话",)


async def test_an_already_imported_customer_is_not_imported_twice(svc: Services) -> None:
    await open_office(svc)
    data = office_workbook()
    await run(svc, data)
    again = await run(svc, data)
    assert again.done and again.plan.planned == ()  # type: ignore[union-attr]
    assert {c.kind.value for c in again.plan.conflicts} == {"ledger_same"}  # type: ignore[union-attr]
    assert len(again.plan.conflicts) == 4 and await count(svc, "report") == 4  # type: ignore[union-attr]


async def _wipe(svc: Services) -> None:
    async with svc.db.uow() as uow:
        for table in TABLES.split(", "):
            await uow.session.execute(text(f"DELETE FROM {table}"))
        await uow.commit()


async def test_export_import_into_a_fresh_database_and_export_again_gives_the_same_rows(svc: Services) -> None:
    from tests.manager_week import WEEK_POLICY, scripted_week

    svc = replace(svc, policy=WEEK_POLICY)  # the week's reports are valid one day: expiries happen within it
    await scripted_week(svc)
    now = local("2026-11-30 12:00")  # after the script's last report (11-30 10:00)
    await sweep(svc, now, "console")  # the ledger settled: what expired by now is expired
    async with svc.db.uow(write=False) as uow:
        project = await uow.projects.by_name("森林半岛")
    assert project is not None
    period = parse_period("2026-11-01..2026-11-30", now.astimezone(svc.tz))
    assert not isinstance(period, str)
    first = await export_ledger(svc, project, period, now)
    data = first.build()
    await _wipe(svc)
    await _register_week_office(svc)
    result = await run(svc, data, now=now, name="报备台账.xlsx", project="森林半岛")
    assert result.done and result.plan.conflicts == (), svc.render("import_summary.j2", r=result)  # type: ignore[union-attr]
    async with svc.db.uow(write=False) as uow:
        again_project = await uow.projects.by_name("森林半岛")
    assert again_project is not None
    second = await export_ledger(svc, again_project, period, now)
    assert _report_rows(data) == _report_rows(second.build())
    assert len(_report_rows(data)) == 7


def _report_rows(data: bytes) -> list[tuple[object, ...]]:
    """The 报备 sheet, every column but 状态记录 (the import's events are its own: see docs/usage.md)."""
    ws = load_workbook(io.BytesIO(data))["报备"]
    header = [c.value for c in ws[1]]
    keep = [i for i, name in enumerate(header) if name != "状态记录"]
    return [tuple(row[i] for i in keep) for row in ws.iter_rows(min_row=2, values_only=True)]


async def _register_week_office(svc: Services) -> None:
    """The office of tests/manager_week.py as it stands at the end of the week (孙七 moved to 猛虎队)."""
    from reportbot.handlers import directory
    from reportbot.handlers.directory import NewStaff
    from tests.manager_week import ADMIN, OTHER, SUN

    when = local("2026-11-20 09:00")
    await open_office(svc)
    await directory.add_staff(svc.db, NewStaff("孙七", "猛虎队", "canvasser", SUN, project="森林半岛"), when)
    await directory.add_staff(svc.db, NewStaff("管理员", "总部", "admin", ADMIN, project="森林半岛"), when)
    await directory.add_project(svc.db, "江景湾", "-1005678", None, when)
    await directory.add_staff(svc.db, NewStaff("周八", "海燕队", "canvasser", OTHER, project="江景湾"), when)
    assert CHEN
