"""Issue 21 §2: a message that keeps failing while the database is healthy is set aside, never silently.

The bot polls a Bot API fake (which hands unconfirmed updates out again, as Telegram does); a bug is
planted in the report path for one customer. That report is tried three times, then set aside as a dead
letter: its sender is told, the admin alerted, and the next report is not held up. Once the bug is
fixed, `reportbot deadletters retry` (the real command) marks it, and the running bot's next sweep
handles it: one receipt, one report. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reportbot.bot import polling
from reportbot.bot import telegram as telegram_transport
from reportbot.bot.settings import Settings
from reportbot.bot.telegram import TelegramTransport
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action, Incoming
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import SystemClock
from reportbot.storage.db import Database
from reportbot.storage.tables import ReportRow
from tests.e2e.fake_bot_api import FakeBotApi
from tests.e2e.outage import ADMIN, receipts, register, report, until

pytestmark = pytest.mark.e2e


def cli(*args: str, url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "", "WECOM_BOT_ID": "", "REPORTBOT_POLICY": "",
           "DATA_DIR": str(folder / "data")}
    return subprocess.run([sys.executable, "-m", "reportbot.bot.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False, cwd=folder)


async def test_a_poison_report_is_set_aside_told_alerted_and_handled_on_retry_once_fixed(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(db_url)
    policy = Policy()
    svc = Services(db=Database(db_url), render=Renderer(policy.timezone), policy=policy)
    poison_user, _, poison_text, poison_phone = report(1)
    next_user, next_name, next_text, next_phone = report(2)
    bug = {"planted": True}
    real = telegram_transport.handle_message

    async def buggy(msg: Incoming, services: Services) -> list[Action]:
        if bug["planted"] and poison_phone in msg.text:
            raise KeyError("a field nobody foresaw")  # a bug: the database is fine
        return await real(msg, services)

    monkeypatch.setattr(telegram_transport, "handle_message", buggy)
    pauses: list[float] = []

    async def pause(stop: asyncio.Event, seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(polling, "_pause", pause)
    async with FakeBotApi() as api:
        transport = TelegramTransport(svc, SystemClock(), tmp_path / "journal")
        settings = Settings(telegram_bot_token=api.token, telegram_base_url=api.base_url, telegram_poll_interval=0.02)
        application = transport.build(settings)
        stop = asyncio.Event()
        serving = asyncio.create_task(transport.serve(application, settings, stop=stop))
        try:
            await asyncio.wait_for(transport.started.wait(), 30)
            await api.say(poison_user, "钱二", poison_user, poison_text)
            await api.say(next_user, next_name, next_user, next_text)
            await until(lambda: next_phone in receipts(api), 30, "the next report's receipt")
            await until(lambda: bool(api.messages_to(ADMIN[0])), 30, "the admin's alert")

            told = [s.text or "" for s in api.messages_to(poison_user)]
            assert len(told) == 1 and "暂时无法处理" in told[0] and "#1" in told[0], told
            alert = api.messages_to(ADMIN[0])[0].text or ""
            assert "#1" in alert and "KeyError" in alert and "reportbot deadletters retry 1" in alert, alert
            assert pauses[:2] == [1.0, 2.0]  # tried three times, paused between, then set aside
            listed = cli("deadletters", url=db_url, folder=tmp_path)
            assert listed.returncode == 0 and "#1\topen\ttelegram\tmessage" in listed.stdout, listed
            assert poison_phone in listed.stdout  # masked as it came; a whole number never is stored
            unhealthy = cli("status", url=db_url, folder=tmp_path)
            assert unhealthy.returncode == 1 and "dead letters open" in unhealthy.stdout, unhealthy.stdout

            bug["planted"] = False  # the fix is deployed
            marked = cli("deadletters", "retry", "1", url=db_url, folder=tmp_path)
            assert marked.returncode == 0 and "marked 1 for retry: #1" in marked.stdout, marked
            await transport.sweeper.run_once()  # the running bot's next sweep
            await until(lambda: poison_phone in receipts(api), 30, "the retried report's receipt")
            await transport.outbox.drain()
        finally:
            stop.set()
            await asyncio.wait_for(serving, 30)

    got = receipts(api)
    assert len(got[poison_phone]) == 1 and len(got[next_phone]) == 1
    async with svc.db.uow(write=False) as uow:
        [letter] = await uow.dead_letters.listed(only_open=False)
        reports = (await uow.session.execute(select(func.count()).select_from(ReportRow))).scalar_one()
    await svc.db.dispose()
    assert letter.state == "done" and letter.failures == 1 and letter.text == poison_text
    assert reports == 2
    assert cli("status", url=db_url, folder=tmp_path).returncode == 0
    again = cli("deadletters", "retry", "1", url=db_url, folder=tmp_path)
    assert again.returncode == 1 and "not open" in again.stdout  # handled: nothing to retry twice
