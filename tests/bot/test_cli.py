"""The command line of SPEC §11: staff and projects, all-or-nothing CSV import, start-up messages."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path


def reportbot(*args: str, db: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "TELEGRAM_BOT_TOKEN": "", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "reportbot.bot.cli", *args],
        check=False, capture_output=True, text=True, env=full_env, timeout=120, stdin=subprocess.DEVNULL,
        cwd=cwd or db.parent,
    )


def test_projects_and_staff_are_added_and_listed(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    assert reportbot("project", "add", "--name", "森林半岛", "--chat-id", "-1001234", db=db).returncode == 0
    added = reportbot("staff", "add", "--id", "101", "--name", "李四", "--team", "飞虎队", "--role", "canvasser",
                      "--project", "森林半岛", db=db)
    assert added.returncode == 0, added.stderr
    wecom_only = reportbot("staff", "add", "--wecom", "zhaomin", "--name", "赵敏", "--team", "案场", "--role", "销售助理", db=db)
    assert wecom_only.returncode == 0, wecom_only.stderr
    listing = reportbot("staff", "list", db=db).stdout
    assert "李四\t飞虎队\tcanvasser\ttelegram=101" in listing
    assert "赵敏\t案场\tassistant\twecom=zhaomin" in listing
    assert "森林半岛\ttelegram=-1001234" in reportbot("project", "list", db=db).stdout


def test_adding_staff_with_a_bad_field_names_it_and_adds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    bad_role = reportbot("staff", "add", "--id", "101", "--name", "李四", "--team", "飞虎队", "--role", "boss", db=db)
    bad_project = reportbot("staff", "add", "--id", "101", "--name", "李四", "--team", "飞虎队", "--role", "canvasser",
                            "--project", "没有", db=db)
    no_id = reportbot("staff", "add", "--name", "李四", "--team", "飞虎队", "--role", "canvasser", db=db)
    assert bad_role.returncode != 0 and "role 'boss'" in bad_role.stderr
    assert bad_project.returncode != 0 and "project '没有' does not exist" in bad_project.stderr
    assert no_id.returncode != 0 and "--id" in no_id.stderr
    assert reportbot("staff", "list", db=db).stdout == ""


def import_csv(tmp_path: Path, db: Path, *rows: str) -> subprocess.CompletedProcess[str]:
    """Register the project, then import staff rows under the documented header."""
    reportbot("project", "add", "--name", "森林半岛", "--chat-id", "-1001234", db=db)
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text("id,name,team,role,project,wecom\n" + "".join(f"{row}\n" for row in rows), "utf-8")
    return reportbot("staff", "import", str(csv_file), db=db)


def test_a_csv_import_with_any_bad_row_reports_every_bad_row_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    result = import_csv(
        tmp_path, db,
        "101,李四,飞虎队,canvasser,森林半岛,",
        "abc,王五,猛虎队,canvasser,森林半岛,",
        "103,赵敏,案场,secretary,森林半岛,",
        "101,孙七,飞虎队,canvasser,森林半岛,",
    )
    assert result.returncode != 0
    assert "line 3: id 'abc'" in result.stderr
    assert "line 4: role 'secretary'" in result.stderr
    assert "line 5: telegram id 101 is already registered" in result.stderr
    assert "line 2" not in result.stderr
    assert reportbot("staff", "list", db=db).stdout == ""


def test_a_good_csv_imports_every_row(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    result = import_csv(tmp_path, db, "101,李四,飞虎队,canvasser,森林半岛,lisi", "102,赵敏,案场,assistant,森林半岛,")
    assert result.returncode == 0, result.stderr
    assert "imported 2 staff" in result.stdout
    assert "wecom=lisi" in reportbot("staff", "list", db=db).stdout


def test_dingtalk_and_feishu_identities_and_groups_are_added_imported_and_listed(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    added = reportbot("project", "add", "--name", "森林半岛", "--dingtalk-chat", "cidQ7kZ2+Ab/Cd==", "--feishu-chat",
                      "oc_a0553eda9014c201e6969b478895c230", db=db)
    assert added.returncode == 0, added.stderr
    both = reportbot("staff", "add", "--dingtalk", "manager4521", "--feishu", "ou_7d8a6e6d", "--name", "李四",
                     "--team", "飞虎队", "--role", "canvasser", "--project", "森林半岛", db=db)
    assert both.returncode == 0, both.stderr
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text("name,team,role,project,dingtalk,feishu\n王五,猛虎队,canvasser,森林半岛,wangwu02,\n"
                        "赵敏,案场,assistant,森林半岛,,ou_9f8e\n", "utf-8")
    imported = reportbot("staff", "import", str(csv_file), db=db)
    assert imported.returncode == 0 and "imported 2 staff" in imported.stdout, imported.stderr
    listing = reportbot("staff", "list", db=db).stdout
    assert "李四\t飞虎队\tcanvasser\tdingtalk=manager4521 feishu=ou_7d8a6e6d" in listing
    assert "dingtalk=wangwu02" in listing and "feishu=ou_9f8e" in listing
    projects = reportbot("project", "list", db=db).stdout
    assert "dingtalk=cidQ7kZ2+Ab/Cd==\tfeishu=oc_a0553eda9014c201e6969b478895c230" in projects


def test_bad_dingtalk_and_feishu_ids_are_named_and_nothing_is_added(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    bad_chat = reportbot("project", "add", "--name", "森林半岛", "--feishu-chat", "group one", db=db)
    assert bad_chat.returncode != 0 and "feishu chat 'group one'" in bad_chat.stderr and "oc_" in bad_chat.stderr
    assert reportbot("project", "add", "--name", "森林半岛", "--dingtalk-chat", "cidA==", db=db).returncode == 0
    taken = reportbot("project", "add", "--name", "湖畔", "--dingtalk-chat", "cidA==", db=db)
    assert taken.returncode != 0 and "dingtalk chat cidA== already belongs to another project" in taken.stderr
    bad_id = reportbot("staff", "add", "--feishu", "欧阳", "--name", "李四", "--team", "飞虎队", "--role", "canvasser", db=db)
    assert bad_id.returncode != 0 and "feishu '欧阳'" in bad_id.stderr
    assert reportbot("staff", "list", db=db).stdout == ""
    assert "湖畔" not in reportbot("project", "list", db=db).stdout


def test_run_without_a_token_says_how_to_get_one_and_offers_the_console(tmp_path: Path) -> None:
    result = reportbot("run", db=tmp_path / "ledger.db")
    assert result.returncode == 0, result.stderr
    assert "@BotFather" in result.stdout and "reportbot console --demo" in result.stdout


def test_a_placeholder_token_is_refused_with_a_sentence(tmp_path: Path) -> None:
    result = reportbot("run", db=tmp_path / "ledger.db", env={"TELEGRAM_BOT_TOKEN": "changeme"})
    assert result.returncode != 0 and "placeholder" in result.stderr


def test_webhook_mode_names_each_missing_or_bad_setting(tmp_path: Path) -> None:
    token = {"TELEGRAM_BOT_TOKEN": "123456:AAE-test-token"}
    result = reportbot("run", "--webhook", db=tmp_path / "ledger.db", env=token)
    assert result.returncode != 0 and "WEBHOOK_URL and WEBHOOK_SECRET" in result.stderr
    plain = {**token, "WEBHOOK_URL": "http://bot.example.com/tg", "WEBHOOK_SECRET": "a" * 32}
    result = reportbot("run", "--webhook", db=tmp_path / "ledger.db", env=plain)
    assert result.returncode != 0 and "https://" in result.stderr
    short = {**token, "WEBHOOK_URL": "https://bot.example.com/tg", "WEBHOOK_SECRET": "short"}
    result = reportbot("run", "--webhook", db=tmp_path / "ledger.db", env=short)
    assert result.returncode != 0 and "WEBHOOK_SECRET: 16–256 characters" in result.stderr


def test_a_bad_policy_value_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("report_window_days = 0\n", "utf-8")
    result = reportbot("console", db=tmp_path / "ledger.db", env={"REPORTBOT_POLICY": str(policy)})
    assert result.returncode != 0 and "report_window_days" in result.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "ledger.db"
    result = reportbot("db", "upgrade", db=db, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_backup_writes_a_copy_that_the_cli_can_read(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    reportbot("project", "add", "--name", "森林半岛", "--chat-id", "-1001234", db=db)
    result = reportbot("backup", str(tmp_path / "copy.db"), db=db)
    assert result.returncode == 0, result.stderr
    assert "森林半岛" in reportbot("project", "list", db=tmp_path / "copy.db").stdout


MORNING = """!clock 2026-11-23 09:30
@101 报备 客户：张先生 电话：138***88888 队名：飞虎队 拓客：李四 到访：明天下午3点
@103 报备 客户：张女士 电话：138***88888 队名：猛虎队 拓客：王五 到访：明天下午3点
!tap @102 确认
"""


def test_export_writes_the_period_s_ledger_as_xlsx(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    db = tmp_path / "ledger.db"
    full_env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "TELEGRAM_BOT_TOKEN": ""}
    subprocess.run([sys.executable, "-m", "reportbot.bot.cli", "console", "--demo"], input=MORNING, text=True,
                   env=full_env, capture_output=True, timeout=120, cwd=tmp_path, check=True)
    out = tmp_path / "november.xlsx"
    result = reportbot("export", "--from", "2026-11-01", "--to", "2026-11-30", str(out), db=db)
    assert result.returncode == 0, result.stderr
    assert "exported 森林半岛 2026-11-01..2026-11-30" in result.stdout and "1 reports" in result.stdout
    book = load_workbook(out)
    assert book.sheetnames[:3] == ["报备", "到访判客", "撞单被拒"]
    receipt, reported_at, *who = [c.value for c in book["报备"][2]][:6]
    assert receipt == "BB-20261123-0001" and reported_at == datetime(2026, 11, 23, 9, 30)
    assert who == ["张先生", "138***88888", "飞虎队", "李四"]
    assert book["撞单被拒"]["C2"].value == "王五"


def test_export_refuses_bad_dates_and_unknown_projects(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    reportbot("project", "add", "--name", "森林半岛", "--chat-id", "-1001234", db=db)
    reversed_ = reportbot("export", "--from", "2026-11-30", "--to", "2026-11-01", "x.xlsx", db=db)
    assert reversed_.returncode != 0 and "--from is after --to" in reversed_.stderr
    unknown = reportbot("export", "--from", "2026-11-01", "--to", "2026-11-30", "--project", "没有", "x.xlsx", db=db)
    assert unknown.returncode != 0 and "no project named '没有'" in unknown.stderr
    assert not (tmp_path / "x.xlsx").exists()


def test_the_web_does_not_start_without_a_real_web_secret_and_says_which_key(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    web = {"WEB_LISTEN": "127.0.0.1:1", "WEB_URL": "https://desk.example.com", "WEB_SECRET": ""}
    token = {"TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35}
    for command, env in ((["web"], web), (["run"], {**web, **token})):
        missing = reportbot(*command, db=db, env=env)
        assert missing.returncode != 0 and "WEB_SECRET" in missing.stderr and "Traceback" not in missing.stderr
    short = reportbot("web", db=db, env={**web, "WEB_SECRET": "abc123"})
    assert short.returncode != 0 and "WEB_SECRET is too short" in short.stderr and "openssl rand -hex 32" in short.stderr
    placeholder = reportbot("web", db=db, env={**web, "WEB_SECRET": "change-me-" + "x" * 30})
    assert placeholder.returncode != 0 and "placeholder" in placeholder.stderr
    no_url = reportbot("web", db=db, env={**web, "WEB_URL": "", "WEB_SECRET": "s" * 40})
    assert no_url.returncode != 0 and "WEB_URL" in no_url.stderr
    assert not db.exists()  # refused before anything was opened
