"""Telegram and WeCom at once, in one process (`reportbot run` with both keys set), on one ledger."""

from __future__ import annotations

import asyncio

import pytest

from reportbot.bot.channels import serve
from reportbot.bot.settings import Settings
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from tests.e2e.conftest import REPORT, WAIT, morning_clock
from tests.e2e.emulator import Emulator, TgUser, new_token, wait_for_bot_messages
from tests.fakes.tls import Certificates, make_certificates
from tests.fakes.wecom_server import FakeWeCom

pytestmark = pytest.mark.e2e

TG_GROUP, WECOM_GROUP = -1001234567890, "wrOgQhDgAAbc123"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


async def test_one_process_serves_telegram_and_wecom_on_the_same_ledger(
    emulator: Emulator, sqlite_url: str, certificates: Certificates
) -> None:
    policy = Policy()
    services = Services(db=Database(sqlite_url), render=Renderer(policy.timezone), policy=policy)
    clock = morning_clock(services.policy)
    await directory.add_project(services.db, "森林半岛", str(TG_GROUP), WECOM_GROUP, clock.now())
    await directory.add_staff(services.db, NewStaff("李四", "飞虎队", "canvasser", "101", None, "森林半岛"), clock.now())
    await directory.add_staff(services.db, NewStaff("王五", "猛虎队", "canvasser", None, "wangwu", "森林半岛"), clock.now())
    token = new_token()
    async with FakeWeCom(certificates.server_context()) as wecom:
        settings = Settings(
            telegram_bot_token=token, telegram_base_url=emulator.base_url, telegram_poll_interval=0.05,
            wecom_bot_id=wecom.bot_id, wecom_bot_secret=wecom.secret, wecom_ws_url=wecom.url,
            wecom_ca_file=certificates.ca_file, database_url=sqlite_url,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(serve(settings, services, clock, stop))
        try:
            await wecom.wait_subscribed()
            li = TgUser(emulator, token, 101, "李四")
            await li.say(101, REPORT.format(customer="张先生", phone="138***88888", team="飞虎队", name="李四"))
            receipt = (await wait_for_bot_messages(emulator, token, 101, count=1, timeout=WAIT))[0]["text"]
            assert "回执号" in receipt
            card = (await wait_for_bot_messages(emulator, token, TG_GROUP, count=1, timeout=WAIT))[0]
            assert "张先生" in card["text"]

            said = await wecom.user_says("wangwu", REPORT.format(customer="张先生", phone="138***88888", team="猛虎队",
                                                                 name="王五"))
            await wecom.wait(lambda: bool(wecom.answers(said)), what="the WeCom answer")
            refusal = wecom.answers(said)[0].text
            assert "撞单" in refusal and "飞虎队" in refusal  # the Telegram report holds the customer
        finally:
            stop.set()
            await asyncio.wait_for(running, 60)
