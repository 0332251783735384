"""The command line: `reportbot run | console | web | staff … | project … | db upgrade | …` (SPEC §11).

The running commands are here; the office's commands in bot/cli_ledger.py, what they share in bot/cli_support.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from reportbot.bot import cli_ledger
from reportbot.bot.cli_support import load_services, load_settings, log, reach_database
from reportbot.bot.logs import configure_logging
from reportbot.bot.policy_file import PolicyError, load_policy
from reportbot.bot.settings import Settings
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import ManualClock, SystemClock
from reportbot.storage.migrate import upgrade

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


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
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
    reach_database(settings, wait=True)
    upgrade(settings.database_url)
    if settings.phone_hash_key is None:
        log.warning("PHONE_HASH_KEY is not set: a visit given a full number matches its report by the masked number only")
    services = load_services(settings)
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
    settings = load_settings()
    if not settings.web_configured:
        raise SystemExit("reportbot: the web is off: set WEB_LISTEN (e.g. 127.0.0.1:8081), WEB_URL and WEB_SECRET")
    if problem := settings.web_problem():
        raise SystemExit(f"reportbot: {problem}")
    reach_database(settings, wait=True)
    upgrade(settings.database_url)
    from reportbot.bot import channels

    channels.run(settings, load_services(settings), SystemClock(), channels_on=False)
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    from reportbot.bot.console import run_console
    from reportbot.bot.demo import seed_demo

    settings = load_settings()
    reach_database(settings)
    upgrade(settings.database_url)
    services = load_services(settings)
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

    cli_ledger.add_commands(sub)

    webs = sub.add_parser("web", help="the web desk and ledger alone (WEB_LISTEN, WEB_URL, WEB_SECRET)")
    webs.set_defaults(func=cmd_web)
    web_commands = webs.add_subparsers(dest="web_command")
    revoke = web_commands.add_parser("revoke", help="sign a person out of every browser now")
    revoke.add_argument("--staff", type=int, required=True, metavar="ID", help="staff id (reportbot staff list)")
    revoke.set_defaults(func=cli_ledger.cmd_web_revoke)

    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = load_settings()
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
