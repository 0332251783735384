"""The office's commands: staff and projects, the schema, the audit chain, backup, export, import, health, dead letters."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from datetime import datetime
from pathlib import Path

from reportbot.bot.cli_support import load_services, load_settings, reach_database, services_for, with_db
from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.identity import CHAT_CHANNELS
from reportbot.handlers.import_reports import ImportResult
from reportbot.handlers.status import Health
from reportbot.scheduler.clock import SystemClock
from reportbot.storage.db import Database
from reportbot.storage.migrate import HEAD, upgrade


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """staff, project, audit, backup, export, import, db, status and deadletters, onto the top parser's ``sub``."""
    staff = sub.add_parser("staff", help="register staff").add_subparsers(dest="staff_command", required=True)
    add = staff.add_parser("add")
    add.add_argument("--id", help="Telegram user id")
    add.add_argument("--wecom", help="WeCom userid")
    add.add_argument("--dingtalk", help="DingTalk userid (the staff id in the DingTalk admin console)")
    add.add_argument("--feishu", help="Feishu open_id of this person under the bot's app (ou_…)")
    add.add_argument("--name", required=True)
    add.add_argument("--team", required=True)
    add.add_argument("--role", required=True, help="canvasser | assistant | manager | admin")
    add.add_argument("--project", help="default project (name)")
    add.set_defaults(func=cmd_staff_add)
    imp = staff.add_parser("import", help="CSV: id,name,team,role,project,wecom,dingtalk,feishu (all rows or none)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_staff_import)
    staff.add_parser("list").set_defaults(func=cmd_staff_list)

    project = sub.add_parser("project", help="register projects").add_subparsers(dest="project_command", required=True)
    padd = project.add_parser("add")
    padd.add_argument("--name", required=True)
    padd.add_argument("--chat-id", help="the project's Telegram group chat id")
    padd.add_argument("--wecom-chat", help="the project's WeCom group chat id")
    padd.add_argument("--dingtalk-chat", help="the project's DingTalk group (openConversationId, cid…)")
    padd.add_argument("--feishu-chat", help="the project's Feishu group chat_id (oc_…)")
    padd.set_defaults(func=cmd_project_add)
    project.add_parser("list").set_defaults(func=cmd_project_list)

    audit = sub.add_parser("audit", help="the tamper-evident event log").add_subparsers(dest="audit_command", required=True)
    audit.add_parser("verify", help="check every project's hash chain; exit 1 on the first break").set_defaults(
        func=cmd_audit_verify
    )

    backup = sub.add_parser("backup", help="a consistent copy of the ledger, also while the bot runs")
    backup.add_argument("path")
    backup.set_defaults(func=cmd_backup)

    export = sub.add_parser("export", help="the ledger of a period as an .xlsx workbook (as /export sends it)")
    export.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (local time)")
    export.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD, included")
    export.add_argument("--project", help="project name (needed when there are several)")
    export.add_argument("out", help="the .xlsx file to write")
    export.set_defaults(func=cmd_export)

    imports = sub.add_parser("import", help="carry an office's ledger over: its spreadsheet of reports")
    import_commands = imports.add_subparsers(dest="import_command", required=True)
    reports = import_commands.add_parser("reports", help=".xlsx or .csv, one row a report: all rows or none")
    reports.add_argument("file")
    reports.add_argument("--project", help="project name (needed when there are several)")
    reports.add_argument("--by", help="who imports (a manager or admin: name, or staff id as `staff list` shows it); "
                                      "named in the audit chain; needed unless --dry-run")
    reports.add_argument("--dry-run", action="store_true",
                         help="show what would be imported, what is refused and each conflict; record nothing")
    reports.set_defaults(func=cmd_import_reports)
    template = import_commands.add_parser("template", help="an empty workbook with the columns and an example row")
    template.add_argument("out", help="the .xlsx file to write")
    template.set_defaults(func=cmd_import_template)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the migrations").set_defaults(func=cmd_db_upgrade)

    health = sub.add_parser("status", help="is the bot healthy? exit 0 yes, 1 no, 2 the database cannot be reached")
    health.add_argument("--json", action="store_true", help="the same as GET /healthz answers")
    health.set_defaults(func=cmd_status)

    letters = sub.add_parser("deadletters", help="messages that failed with the database healthy, set aside")
    letters.add_argument("--all", action="store_true", help="also those handled or dismissed")
    letters.set_defaults(func=cmd_deadletters)
    letter_commands = letters.add_subparsers(dest="deadletters_command")
    retry = letter_commands.add_parser("retry", help="have the running bot handle them again (all open ones, or IDs)")
    retry.add_argument("ids", nargs="*", metavar="ID")
    retry.set_defaults(func=cmd_deadletters_retry)
    dismiss = letter_commands.add_parser("dismiss", help="looked at: close it without handling it again")
    dismiss.add_argument("id", type=int, metavar="ID")
    dismiss.set_defaults(func=cmd_deadletters_dismiss)


def cmd_staff_add(args: argparse.Namespace) -> int:
    entry = NewStaff(args.name, args.team, args.role, args.id, args.wecom, args.project,
                     dingtalk_id=args.dingtalk, feishu_id=args.feishu)
    staff = with_db(lambda db, now: directory.add_staff(db, entry, now))
    print(f"added staff #{staff.id}: {staff.name} ({staff.team}, {staff.role.value})")
    return 0


def read_staff_csv(path: Path) -> list[tuple[int, NewStaff]]:
    """Rows of id,name,team,role[,project][,wecom][,dingtalk][,feishu] with a header line; line numbers for errors."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"name", "team", "role"} - set(reader.fieldnames or [])
        if missing:
            raise SystemExit(f"reportbot: {path}: header lacks {', '.join(sorted(missing))} (id,name,team,role,project,wecom,dingtalk,feishu)")
        return [
            (
                reader.line_num,
                NewStaff(
                    name=row.get("name") or "",
                    team=row.get("team") or "",
                    role=row.get("role") or "",
                    telegram_id=(row.get("id") or "").strip() or None,
                    wecom_id=(row.get("wecom") or "").strip() or None,
                    project=(row.get("project") or "").strip() or None,
                    dingtalk_id=(row.get("dingtalk") or "").strip() or None,
                    feishu_id=(row.get("feishu") or "").strip() or None,
                ),
            )
            for row in reader
        ]


def cmd_staff_import(args: argparse.Namespace) -> int:
    entries = read_staff_csv(Path(args.file))
    added = with_db(lambda db, now: directory.import_staff(db, entries, now))
    print(f"imported {len(added)} staff")
    return 0


def cmd_staff_list(args: argparse.Namespace) -> int:
    rows = with_db(lambda db, now: directory.list_staff(db))
    for staff, ids in rows:
        idents = " ".join(f"{k}={v}" for k, v in sorted(ids.items()))
        print(f"#{staff.id}\t{staff.name}\t{staff.team}\t{staff.role.value}\t{idents}")
    return 0


def cmd_project_add(args: argparse.Namespace) -> int:
    project = with_db(lambda db, now: directory.add_project(
        db, args.name, args.chat_id, args.wecom_chat, now, dingtalk_chat_id=args.dingtalk_chat,
        feishu_chat_id=args.feishu_chat))
    print(f"added project #{project.id}: {project.name}")
    return 0


def cmd_project_list(args: argparse.Namespace) -> int:
    for project in with_db(lambda db, now: directory.list_projects(db)):
        chats = "\t".join(f"{channel}={project.chat_on(channel) or '-'}" for channel in CHAT_CHANNELS)
        print(f"#{project.id}\t{project.name}\t{chats}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    reach_database(settings)
    upgrade(settings.database_url)
    print("database is at the newest schema")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from reportbot.handlers.audit import verify_chain

    broken = 0
    for project, checked, problem in with_db(lambda db, now: verify_chain(db)):
        if problem:
            broken += 1
            print(f"BROKEN  {project.name}: {problem}")
        else:
            print(f"ok      {project.name}: {checked} events, chain intact")
    return 1 if broken else 0


def cmd_backup(args: argparse.Namespace) -> int:
    from reportbot.storage.backup import BackupError, backup

    settings = load_settings()
    reach_database(settings)
    try:
        written = backup(settings.database_url, Path(args.path))
    except BackupError as exc:
        raise SystemExit(f"reportbot: {exc}") from None
    print(f"backup written to {written}")
    return 0


PERIOD_PROBLEMS = {
    "unreadable": "dates are YYYY-MM-DD",
    "reversed": "--from is after --to",
    "too_long": "at most 366 days at once",
}


def cmd_export(args: argparse.Namespace) -> int:
    """`reportbot export --from 2026-11-01 --to 2026-11-30 OUT.xlsx [--project 森林半岛]`: the /export workbook."""
    from reportbot.handlers.export import export_ledger
    from reportbot.rules.stats import PeriodProblem, parse_period

    settings = load_settings()
    reach_database(settings)
    upgrade(settings.database_url)
    services = load_services(settings)
    now = SystemClock().now()
    period = parse_period(f"{args.start}..{args.end}", now.astimezone(services.tz))
    if isinstance(period, PeriodProblem):
        raise SystemExit(f"reportbot: --from {args.start} --to {args.end}: {PERIOD_PROBLEMS[period]}")

    async def main() -> tuple[str, dict[str, int]]:
        try:
            projects = await directory.list_projects(services.db)
            chosen = [p for p in projects if p.name == args.project] if args.project else projects
            if len(chosen) != 1:
                names = ", ".join(p.name for p in projects) or "none (reportbot project add)"
                which = (f"no project named {args.project!r}" if args.project
                         else "several projects: name one with --project")
                raise SystemExit(f"reportbot: {which}; projects: {names}")
            ledger = await export_ledger(services, chosen[0], period, now)
            Path(args.out).write_bytes(await asyncio.to_thread(ledger.build))
            return chosen[0].name, ledger.counts
        finally:
            await services.db.dispose()

    name, counts = asyncio.run(main())
    print(f"exported {name} {period.first}..{period.last} to {args.out}: "
          + ", ".join(f"{count} {what}" for what, count in counts.items()))
    return 0


def cmd_import_reports(args: argparse.Namespace) -> int:
    """`reportbot import reports FILE [--project P] [--by WHO] [--dry-run]`: exit 0 imported (or planned), 1 bad
    rows or header, 2 refused (no person, no project, no spreadsheet)."""
    from reportbot.handlers.import_reports import import_reports

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SystemExit(f"reportbot: {path}: {exc.strerror or exc}") from None
    settings = load_settings()
    reach_database(settings)
    upgrade(settings.database_url)
    services = load_services(settings)

    async def main() -> ImportResult:
        try:
            return await import_reports(services, args.project, path.name, data, args.by, SystemClock().now(),
                                        dry_run=args.dry_run)
        finally:
            await services.db.dispose()

    result = asyncio.run(main())
    print(services.render("import_summary.j2", r=result), file=sys.stderr if result.refused else sys.stdout)
    return 2 if result.refused else 0 if result.plan is not None else 1


def cmd_import_template(args: argparse.Namespace) -> int:
    """`reportbot import template OUT.xlsx`: the columns the import reads, and an example row it skips."""
    from reportbot.documents.sheet_file import template_workbook
    from reportbot.rules.import_columns import COLUMN_NAMES, TEMPLATE_COLUMNS, Column
    from reportbot.rules.import_rows import template_example

    services = load_services(load_settings())
    now = SystemClock().now().astimezone(services.tz)
    dates = [TEMPLATE_COLUMNS.index(Column.REPORTED_AT), TEMPLATE_COLUMNS.index(Column.APPOINTMENT)]
    Path(args.out).write_bytes(template_workbook([COLUMN_NAMES[c] for c in TEMPLATE_COLUMNS],
                                                 template_example(now, services.policy), dates, now))
    print(f"template written to {args.out}: fill in one row a report, then reportbot import reports {args.out} --dry-run")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """`reportbot status [--json]`: exit 0 healthy, 1 unhealthy, 2 the database cannot be reached."""
    import json

    from reportbot.handlers import status
    from reportbot.storage.health import describe

    settings = load_settings()
    db = Database(settings.database_url)

    async def main() -> status.Health:
        try:
            return await status.check(db, SystemClock().now())
        finally:
            await db.dispose()

    health = asyncio.run(main())
    if args.json:
        print(json.dumps(health.as_json(), ensure_ascii=False, indent=2))
    else:
        print(_status_text(health, describe(settings.database_url)))
    if not health.reachable:
        return 2
    return 0 if health.healthy else 1


def _status_text(health: Health, database: str) -> str:
    lines = [f"reportbot: {'正常 healthy' if health.healthy else '有问题 unhealthy'}"]
    if health.reachable:
        lines.append(f"数据库   {database}：可连接，往返 {health.round_trip_ms:.1f} ms")
        lines.append(f"结构     {health.schema or '-'}（最新 {HEAD}）")
        oldest = "" if health.oldest_unsent is None else f"，最早一条已等 {health.oldest_unsent.total_seconds():.0f} 秒"
        lines.append(f"待发送   {health.unsent} 条{oldest}")
        seen = "，".join(f"{channel} {age.total_seconds():.0f} 秒前" for channel, age in sorted(health.last_update.items()))
        lines.append(f"最近消息 {seen or '还没有'}")
        lines.append(f"待查消息 {health.dead_letters} 条" + ("（reportbot deadletters）" if health.dead_letters else ""))
    lines += [f"问题：{problem}" for problem in health.problems]
    return "\n".join(lines)


def cmd_deadletters(args: argparse.Namespace) -> int:
    """`reportbot deadletters [--all]`: the messages set aside (SPEC §13)."""
    from reportbot.handlers import deadletters

    letters = with_db(lambda db, now: deadletters.listed(services_for(db), everything=args.all))
    if not letters:
        print("没有待查消息 / no dead letters" + ("" if args.all else " open"))
        return 0
    for letter in letters:
        print(f"#{letter.id}\t{letter.state}\t{letter.channel}\t{letter.kind}\tfrom {letter.sender_id}\t"
              f"{letter.received_at:%Y-%m-%d %H:%M:%S} UTC\t{letter.failures}×\t{letter.error}")
        print("\t" + letter.text[:200].replace("\n", " / "))
    return 0


def cmd_deadletters_retry(args: argparse.Namespace) -> int:
    """`reportbot deadletters retry [ID ...]`: the running bot handles them again at its next sweep."""
    from reportbot.handlers import deadletters

    ids = [int(i) for i in args.ids] if args.ids else None
    marked = with_db(lambda db, now: deadletters.request_retry(services_for(db), ids))
    if ids is not None and (missing := sorted(set(ids) - set(marked))):
        print(f"not open (already handled, dismissed or unknown): {', '.join(f'#{i}' for i in missing)}")
    if not marked:
        return 1 if ids else 0
    print(f"marked {len(marked)} for retry: {', '.join(f'#{i}' for i in marked)} — the running bot handles them "
          "at its next sweep (within sweep_seconds), or at its next start")
    return 0


def cmd_deadletters_dismiss(args: argparse.Namespace) -> int:
    """`reportbot deadletters dismiss ID`: looked at, nothing to do again."""
    from reportbot.handlers import deadletters

    done = with_db(lambda db, now: deadletters.dismiss(services_for(db), args.id, now))
    print(f"#{args.id} dismissed" if done else f"#{args.id} is not open")
    return 0 if done else 1


def cmd_web_revoke(args: argparse.Namespace) -> int:
    """`reportbot web revoke --staff ID`: end every web session of that person now."""
    async def revoke(db: Database, now: datetime) -> int:
        async with db.uow() as uow:
            ended = await uow.web.end_all_of(args.staff, "revoked", now)
            await uow.commit()
        return ended

    ended = with_db(revoke)
    print(f"ended {ended} web session(s) of staff #{args.staff}")
    return 0
