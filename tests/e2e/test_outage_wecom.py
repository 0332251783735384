"""Issue 21 on WeCom: PostgreSQL stopped for 10 s under the real `reportbot run`, in the middle of a burst.

WeCom hands a callback out once, so the bot spools each one to disk before anything else
(bot/spool.py) and handles it when the database is back. Every report is stored once and answered with
one receipt, in the order WeCom delivered them; a card pressed during the outage is decided once (posted
anew: its 5-second window to update in place is gone); the bot process is never restarted.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from tests.e2e.outage import RECEIPT, BotProcess, quiet_policy, started, stopped, stored, three_waves, until
from tests.fakes.pg_cluster import OwnPostgres
from tests.fakes.tls import Certificates, make_certificates
from tests.fakes.wecom_server import FakeWeCom, Sent

pytestmark = pytest.mark.e2e
GROUP = "wrOutageGroup01"
ASSISTANT = "sunzhuli"
PEOPLE = [(f"tk{i:02d}", name, team) for i, (name, team) in
          enumerate([("赵一", "甲队"), ("钱二", "乙队"), ("孙三", "甲队"), ("李四", "乙队"), ("周五", "甲队"),
                     ("吴六", "乙队")])]
PER_WAVE = 6
OUTAGE = 10.0


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def report(n: int) -> tuple[str, str, str]:
    userid, name, team = PEOPLE[n % len(PEOPLE)]
    phone = f"137***{60000 + n:05d}"
    return userid, f"报备\n客户：客户{chr(0x4E00 + n)}\n电话：{phone}\n队名：{team}\n拓客：{name}\n到访：明天下午3点", phone


async def register(url: str) -> None:
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    now = datetime.now(UTC)
    await directory.add_project(db, "江湾壹号", None, GROUP, now)
    await directory.add_staff(db, NewStaff("孙助理", "案场", "assistant", wecom_id=ASSISTANT, project="江湾壹号"), now)
    for userid, name, team in PEOPLE:
        await directory.add_staff(db, NewStaff(name, team, "canvasser", wecom_id=userid, project="江湾壹号"), now)
    await db.dispose()


def receipts(wecom: FakeWeCom) -> dict[str, list[str]]:
    """masked phone → receipt numbers that reached canvassers (a reply or a push, each message once)."""
    found: dict[str, list[str]] = {}
    for userid, _, _ in PEOPLE:
        for sent in wecom.to(userid):
            if match := RECEIPT.search(sent.text):
                phone = sent.text.split("电话：")[1][:11]
                found.setdefault(phone, []).append(match[1])
    return found


def cards(wecom: FakeWeCom) -> list[Sent]:
    return [s for s in wecom.to(GROUP) if s.buttons]


async def test_wecom_through_a_postgresql_restart_spools_every_callback_and_loses_nothing(
    certificates: Certificates, tmp_path: Path
) -> None:
    with OwnPostgres() as pg:
        url = pg.create(f"wecom_{uuid.uuid4().hex[:8]}")
        await register(url)
        sent: list[str] = []
        async with FakeWeCom(certificates.server_context()) as wecom:
            env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "", "WECOM_BOT_ID": wecom.bot_id,
                   "WECOM_BOT_SECRET": wecom.secret, "WECOM_WS_URL": wecom.url,
                   "WECOM_CA_FILE": str(certificates.ca_file), "DATA_DIR": str(tmp_path / "data"),
                   "REPORTBOT_POLICY": str(quiet_policy(tmp_path)), "LOG_LEVEL": "INFO"}
            bot = BotProcess(env, tmp_path)
            await bot.start()
            try:
                await wecom.wait_subscribed()

                async def send(n: int) -> None:
                    userid, text, phone = report(n)
                    await wecom.user_says(userid, text)
                    sent.append(phone)

                await send(0)
                await wecom.wait(lambda: bool(cards(wecom)), what="the first card")
                card = cards(wecom)[0]

                async def press() -> None:
                    await wecom.press(ASSISTANT, card, "确认")

                await three_waves(send, stopped(pg), started(pg), per_wave=PER_WAVE, outage=OUTAGE, meanwhile=press)
                await until(lambda: len(receipts(wecom)) >= 3 * PER_WAVE, 120, "every receipt", bot)
                await until(lambda: any("已确认" in s.text for s in wecom.to(GROUP)), 60, "the card decided", bot)
                await until(lambda: any("确认" in s.text and "回执号" not in s.text for s in wecom.to(PEOPLE[0][0])),
                            30, "the canvasser told", bot)
                assert bot.alive, "the bot process must live through the outage"
            finally:
                await bot.stop()

        by_phone, deliveries = await stored(url)

    assert sorted(by_phone) == sorted(sent) and deliveries == len(sent) + 1
    got = receipts(wecom)
    assert all(len(numbers) == 1 for numbers in got.values()), got  # one receipt each
    numbers = [by_phone[phone] for phone in sent]
    assert numbers == sorted(numbers)  # first come, first served, in WeCom's order, across the outage
    assert len([s for s in wecom.to(GROUP) if "已确认" in s.text]) == 1
    spools = list((tmp_path / "data").glob("inbox-wecom-*.spool"))
    assert spools and all(p.read_text() == "" for p in spools)  # every spooled callback handled
    log = bot.output()
    assert "数据库暂时不可用" in log and "数据库已恢复" in log
    assert "Traceback" not in log and "dead letter" not in log, log[-4000:]
