"""The command line: `reportbot run | console | staff … | project … | db upgrade` (SPEC §11)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from reportbot.bot.app import build_services
from reportbot.bot.logs import configure_logging
from reportbot.bot.policy_file import PolicyError, load_policy
from reportbot.bot.settings import Settings
from reportbot.handlers import directory
from reportbot.handlers.directory import DirectoryError, NewStaff
from reportbot.handlers.identity import CHAT_CHANNELS
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import ManualClock, SystemClock
from reportbot.storage.db import Database
from reportbot.storage.migrate import HEAD, upgrade

log = logging.getLogger("reportbot")
MAX_START_WAIT = 30.0  # seconds between tries, at most, while `run` waits for its database

NO_TOKEN = """没有配置任何渠道 / No channel is configured.

要在 Telegram 上运行：在 Telegram 里找 @BotFather，发送 /newbot 得到令牌，写进 .env：
  TELEGRAM_BOT_TOKEN=123456789:AAE…
要在企业微信上运行：创建智能机器人，开启长连接 API 模式，把 BotID 和 Secret 写进 .env：
  WECOM_BOT_ID=…
  WECOM_BOT_SECRET=…
要在钉钉上运行：创建企业内部应用并添加机器人（Stream 模式），把 Client ID 和 Client Secret 写进 .env：
  DINGTALK_CLIENT_ID=…
  DINGTALK_CLIENT_SECRET=…
要在飞书上运行：创建企业自建应用并添加机器人（长连接），把 App ID 和 App Secret 写进 .env：
  FEISHU_APP_ID=cli_…
  FEISHU_APP_SECRET=…
（填了几个就同时运行几个。）然后再运行 reportbot run。步骤详见 docs/channels.md。

To run on Telegram: ask @BotFather for a token (/newbot) and put it in .env as above; for WeCom,
DingTalk or Feishu, put the robot's keys there (docs/channels.md, one section each). Any of them may be
set at once.
Meanwhile the whole bot works in the terminal, no token needed:
  reportbot console --demo
"""


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise SystemExit(f"reportbot: bad setting — {problems}") from None


def _services(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return build_services(settings)
    except PolicyError as exc:
        raise SystemExit(f"reportbot: {exc}") from None


def _reach_database(settings: Settings, *, wait: bool = False) -> None:
    """Before anything touches the database: reach it, or say in one sentence which one and why not.

    ``wait`` (``run``, which a server may start before PostgreSQL): keep trying with a back-off, saying so
    each time; otherwise exit non-zero with that sentence.
    """
    from reportbot.storage.health import reach, unreachable

    delay = 1.0
    while (problem := reach(settings.database_url)) is not None:
        sentence = unreachable(settings.database_url, problem)
        if not wait:
            raise SystemExit(f"reportbot: {sentence}")
        log.warning("%s %.0f 秒后重试 / retrying in %.0f s.", sentence, delay, delay)
        time.sleep(delay)
        delay = min(delay * 2, MAX_START_WAIT)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings.telegram_bot_token is None and not settings.chat_channels_configured:
        print(NO_TOKEN)
        if sys.stdin.isatty():
            answer = input("现在打开控制台试用吗？Start the console now? [Y/n] ").strip().lower()
            if answer in ("", "y", "yes", "是", "好"):
                return cmd_console(argparse.Namespace(demo=True, user="101"))
        return 0
    if getattr(args, "webhook", False) and (problem := settings.webhook_problem()):
        raise SystemExit(f"reportbot: {problem}")
    if problem := settings.web_problem():
        raise SystemExit(f"reportbot: {problem}")
    _reach_database(settings, wait=True)
    upgrade(settings.database_url)
    if settings.phone_hash_key is None:
        log.warning("PHONE_HASH_KEY is not set: a visit given a full number matches its report by the masked number only")
    services = _services(settings)
    if settings.chat_channels_configured or settings.web_configured:  # the messengers or the web, and Telegram
        from reportbot.bot import channels

        channels.run(settings, services, SystemClock(), webhook=getattr(args, "webhook", False))
        return 0
    from reportbot.bot.telegram import TelegramTransport

    transport = TelegramTransport(services, SystemClock(), settings.journal_path("telegram"))
    application = transport.build(settings)
    asyncio.run(transport.serve(application, settings, webhook=getattr(args, "webhook", False)))
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """`reportbot web`: the web desk and ledger alone (WEB_LISTEN, WEB_URL, WEB_SECRET)."""
    settings = _settings()
    if not settings.web_configured:
        raise SystemExit("reportbot: the web is off: set WEB_LISTEN (e.g. 127.0.0.1:8081), WEB_URL and WEB_SECRET")
    if problem := settings.web_problem():
        raise SystemExit(f"reportbot: {problem}")
    _reach_database(settings, wait=True)
    upgrade(settings.database_url)
    from reportbot.bot import channels

    channels.run(settings, _services(settings), SystemClock(), channels_on=False)
    return 0


def cmd_web_revoke(args: argparse.Namespace) -> int:
    """`reportbot web revoke --staff ID`: end every web session of that person now."""
    async def revoke(db: Database, now: datetime) -> int:
        async with db.uow() as uow:
            ended = await uow.web.end_all_of(args.staff, "revoked", now)
            await uow.commit()
        return ended

    ended = _with_db(revoke)
    print(f"ended {ended} web session(s) of staff #{args.staff}")
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from reportbot.bot.console import run_console
    from reportbot.bot.demo import seed_demo

    settings = _settings()
    _reach_database(settings)
    upgrade(settings.database_url)
    services = _services(settings)
    interactive = sys.stdin.isatty()

    async def main() -> None:
        try:
            if args.demo:
                await seed_demo(services.db, SystemClock().now())
            clock = ManualClock(SystemClock().now())
            if interactive:
                print("reportbot 控制台。!help 查看脚本语言，!quit 退出。" + (f" 不带 @ 的行以 @{args.user} 发出。" if args.user else ""))
            await run_console(
                services,
                clock,
                sys.stdin,
                sys.stdout,
                echo=not interactive,
                prompt=(lambda: print("> ", end="", flush=True)) if interactive else None,
                default_user=args.user,
                files_dir=Path(args.files) if getattr(args, "files", None) else None,
            )
        finally:
            await services.db.dispose()

    asyncio.run(main())
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings()
    _reach_database(settings)
    upgrade(settings.database_url)
    print("database is at the newest schema")
    return 0


def _with_db(work):  # type: ignore[no-untyped-def]
    settings = _settings()
    _reach_database(settings)
    upgrade(settings.database_url)
    services = _services(settings)

    async def main():  # type: ignore[no-untyped-def]
        try:
            return await work(services.db, SystemClock().now())
        finally:
            await services.db.dispose()

    try:
        return asyncio.run(main())
    except DirectoryError as exc:
        raise SystemExit(f"reportbot: {exc}") from None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from reportbot.handlers.audit import verify_chain

    broken = 0
    for project, checked, problem in _with_db(lambda db, now: verify_chain(db)):
        if problem:
            broken += 1
            print(f"BROKEN  {project.name}: {problem}")
        else:
            print(f"ok      {project.name}: {checked} events, chain intact")
    return 1 if broken else 0


def cmd_backup(args: argparse.Namespace) -> int:
    from reportbot.storage.backup import BackupError, backup

    settings = _settings()
    _reach_database(settings)
    try:
        written = backup(settings.database_url, Path(args.path))
    except BackupError as exc:
        raise SystemExit(f"reportbot: {exc}") from None
    print(f"backup written to {written}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """`reportbot export --from 2026-11-01 --to 2026-11-30 OUT.xlsx [--project 森林半岛]`: the /export workbook."""
    from reportbot.handlers.export import export_ledger
    from reportbot.rules.stats import PeriodProblem, parse_period

    settings = _settings()
    _reach_database(settings)
    upgrade(settings.database_url)
    services = _services(settings)
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


def cmd_status(args: argparse.Namespace) -> int:
    """`reportbot status [--json]`: exit 0 healthy, 1 unhealthy, 2 the database cannot be reached."""
    import json

    from reportbot.handlers import status
    from reportbot.storage.health import describe

    settings = _settings()
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


def _status_text(health, database: str) -> str:  # type: ignore[no-untyped-def]
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

    letters = _with_db(lambda db, now: deadletters.listed(_services_for(db), everything=args.all))
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
    marked = _with_db(lambda db, now: deadletters.request_retry(_services_for(db), ids))
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

    done = _with_db(lambda db, now: deadletters.dismiss(_services_for(db), args.id, now))
    print(f"#{args.id} dismissed" if done else f"#{args.id} is not open")
    return 0 if done else 1


def _services_for(db: Database):  # type: ignore[no-untyped-def]
    """Services on an open database, for the dead-letter commands (no texts are sent from here)."""
    from reportbot.handlers.context import Services
    from reportbot.handlers.render import Renderer

    policy = Policy()
    return Services(db=db, render=Renderer(policy.timezone), policy=policy)


PERIOD_PROBLEMS = {
    "unreadable": "dates are YYYY-MM-DD",
    "reversed": "--from is after --to",
    "too_long": "at most 366 days at once",
}


def cmd_staff_add(args: argparse.Namespace) -> int:
    entry = NewStaff(args.name, args.team, args.role, args.id, args.wecom, args.project,
                     dingtalk_id=args.dingtalk, feishu_id=args.feishu)
    staff = _with_db(lambda db, now: directory.add_staff(db, entry, now))
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
    added = _with_db(lambda db, now: directory.import_staff(db, entries, now))
    print(f"imported {len(added)} staff")
    return 0


def cmd_staff_list(args: argparse.Namespace) -> int:
    rows = _with_db(lambda db, now: directory.list_staff(db))
    for staff, ids in rows:
        idents = " ".join(f"{k}={v}" for k, v in sorted(ids.items()))
        print(f"#{staff.id}\t{staff.name}\t{staff.team}\t{staff.role.value}\t{idents}")
    return 0


def cmd_project_add(args: argparse.Namespace) -> int:
    project = _with_db(lambda db, now: directory.add_project(
        db, args.name, args.chat_id, args.wecom_chat, now, dingtalk_chat_id=args.dingtalk_chat,
        feishu_chat_id=args.feishu_chat))
    print(f"added project #{project.id}: {project.name}")
    return 0


def cmd_project_list(args: argparse.Namespace) -> int:
    for project in _with_db(lambda db, now: directory.list_projects(db)):
        chats = "\t".join(f"{channel}={project.chat_on(channel) or '-'}" for channel in CHAT_CHANNELS)
        print(f"#{project.id}\t{project.name}\t{chats}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="reportbot", description="渠道报备 / 判客 bot")
    sub = top.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="the bot on every channel configured: Telegram (long polling, or --webhook), "
                                     "WeCom, DingTalk and Feishu (long connections)")
    run.add_argument("--webhook", action="store_true",
                     help="serve updates over HTTPS POSTs from Telegram (WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_LISTEN)")
    run.set_defaults(func=cmd_run)

    console = sub.add_parser("console", help="the same bot in a terminal; reads a script on stdin")
    console.add_argument("--demo", action="store_true", help="register a demo project and staff if there is none")
    console.add_argument("--user", help="lines without @UID come from this user")
    console.add_argument("--files", help="save the photos and documents the bot sends into this directory")
    console.set_defaults(func=cmd_console)

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

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply the migrations").set_defaults(func=cmd_db_upgrade)

    webs = sub.add_parser("web", help="the web desk and ledger alone (WEB_LISTEN, WEB_URL, WEB_SECRET)")
    webs.set_defaults(func=cmd_web)
    web_commands = webs.add_subparsers(dest="web_command")
    revoke = web_commands.add_parser("revoke", help="sign a person out of every browser now")
    revoke.add_argument("--staff", type=int, required=True, metavar="ID", help="staff id (reportbot staff list)")
    revoke.set_defaults(func=cmd_web_revoke)

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
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format, _mask_digits(settings))
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A fault a person can fix (the database went away, a disk filled) is one sentence, not a traceback.
        from reportbot.storage.health import is_outage, unreachable

        if not is_outage(exc):
            raise
        print(f"reportbot: {unreachable(settings.database_url, exc)}", file=sys.stderr)
        return 2


def _mask_digits(settings: Settings) -> int:
    """Logs mask numbers as the policy does; a bad policy file is reported later, by _services."""
    try:
        return load_policy(settings.reportbot_policy).mask_suffix_digits
    except PolicyError:
        return Policy().mask_suffix_digits


if __name__ == "__main__":
    sys.exit(main())
