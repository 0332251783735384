"""Issue 27 on the command line: `reportbot import template`, `reportbot import reports FILE [--dry-run]`."""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import load_workbook

from tests.bot.test_cli import reportbot

ROWS = (
    "客户,电话,队名,拓客,报备时间,预约到访时间,状态,备注\n"
    "张先生,138***88888,飞虎队,李四,2026/11/20 14:00,2026/11/24 15:00,有效,带父母\n"
    "刘女士,13912345678,飞虎队,李四,2026/11/3 14:00,,,\n"
)


def office(tmp_path: Path) -> Path:
    db = tmp_path / "ledger.db"
    assert reportbot("project", "add", "--name", "森林半岛", "--chat-id", "-1001234", db=db).returncode == 0
    for uid, name, team, role in (("101", "李四", "飞虎队", "canvasser"), ("104", "陈经理", "案场", "manager")):
        added = reportbot("staff", "add", "--id", uid, "--name", name, "--team", team, "--role", role,
                          "--project", "森林半岛", db=db)
        assert added.returncode == 0, added.stderr
    return db


def test_the_template_is_a_workbook_with_the_columns_and_an_example_row(tmp_path: Path) -> None:
    out = tmp_path / "模板.xlsx"
    done = reportbot("import", "template", str(out), db=tmp_path / "ledger.db")
    assert done.returncode == 0, done.stderr
    ws = load_workbook(io.BytesIO(out.read_bytes())).active
    assert ws is not None
    assert [c.value for c in ws[1]] == ["客户", "电话", "队名", "拓客", "报备时间", "预约到访时间", "状态", "备注"]
    assert ws["A2"].value == "张先生" and ws.max_row == 2


def test_a_dry_run_prints_the_plan_and_the_import_then_records_it_once(tmp_path: Path) -> None:
    db = office(tmp_path)
    sheet = tmp_path / "台账.csv"
    sheet.write_bytes(ROWS.encode("gbk"))
    dry = reportbot("import", "reports", str(sheet), "--dry-run", db=db)
    assert dry.returncode == 0, dry.stderr
    assert "试运行（什么都没有记录）：将导入 2 条报备" in dry.stdout and "第2行 → BB-20261120-0001" in dry.stdout
    assert "13912345678" not in dry.stdout and "139***45678" in dry.stdout
    no_person = reportbot("import", "reports", str(sheet), db=db)
    assert no_person.returncode != 0 and "--by" in no_person.stdout + no_person.stderr
    done = reportbot("import", "reports", str(sheet), "--by", "陈经理", "--project", "森林半岛", db=db)
    assert done.returncode == 0, done.stderr
    assert "已导入 2 条报备" in done.stdout and "审计记录：陈经理" in done.stdout
    assert "chain intact" in reportbot("audit", "verify", db=db).stdout
    again = reportbot("import", "reports", str(sheet), "--by", "陈经理", db=db)
    assert again.returncode == 0 and "冲突 2 条" in again.stdout


def test_a_file_with_bad_rows_exits_non_zero_naming_each_line(tmp_path: Path) -> None:
    db = office(tmp_path)
    sheet = tmp_path / "台账.csv"
    sheet.write_text(ROWS + "王先生,,猎豹队,李四,2026/11/3,,,\n", "utf-8-sig")
    bad = reportbot("import", "reports", str(sheet), "--by", "陈经理", db=db)
    assert bad.returncode == 1
    assert "第4行【电话】" in bad.stdout and "第4行【队名】" in bad.stdout and "第4行【报备时间】" in bad.stdout
    assert "已导入" not in bad.stdout


def test_an_unreadable_file_or_project_is_one_sentence(tmp_path: Path) -> None:
    db = office(tmp_path)
    missing = reportbot("import", "reports", str(tmp_path / "无.xlsx"), db=db)
    assert missing.returncode != 0 and "无.xlsx" in missing.stderr
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"PK\x03\x04 nothing")
    assert "xlsx" in reportbot("import", "reports", str(broken), "--dry-run", db=db).stderr
    sheet = tmp_path / "台账.csv"
    sheet.write_text(ROWS, "utf-8")
    unknown = reportbot("import", "reports", str(sheet), "--dry-run", "--project", "江景湾", db=db)
    assert unknown.returncode != 0 and "江景湾" in unknown.stdout + unknown.stderr
