"""One office on Telegram, WeCom, DingTalk and Feishu at once: one process, one ledger, on both databases.

The real transports — python-telegram-bot against the Bot API emulator, the WeCom, DingTalk and Feishu SDKs
against the local fakes — in one ``serve`` (what `reportbot run` runs with every key set), on a clock that
moves only when told, so that the evening digest and the next morning's reminders can be watched arriving on
each group's and each person's own channel.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

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
from tests.fakes.dingtalk_server import FakeDingTalk
from tests.fakes.feishu_server import FakeFeishu
from tests.fakes.tls import Certificates, make_certificates
from tests.fakes.wecom_server import FakeWeCom

pytestmark = pytest.mark.e2e

TG_GROUP, WECOM_GROUP, DT_GROUP, FS_GROUP = -1001234567890, "wrOgQhDgAAbc123", "cidQ7kZ2sJ9x==", "oc_a0553eda9014"
LI_TG, WANG_WECOM, QIAN_DT, ZHAO_DT, SUN_FS = 101, "wangwu", "qianba08", "zhaomin03", "ou_sun7"
RECEIPT = re.compile(r"BB-\d{8}-\d{4}")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


async def register(services: Services, now: datetime) -> None:
    await directory.add_project(services.db, "森林半岛", str(TG_GROUP), WECOM_GROUP, now, dingtalk_chat_id=DT_GROUP,
                                feishu_chat_id=FS_GROUP)
    people = [("李四", "飞虎队", "canvasser", {"telegram_id": str(LI_TG)}),
              ("王五", "猛虎队", "canvasser", {"wecom_id": WANG_WECOM}),
              ("钱八", "雄鹰队", "canvasser", {"dingtalk_id": QIAN_DT}),
              ("赵敏", "案场", "assistant", {"dingtalk_id": ZHAO_DT}),
              ("孙七", "猎豹队", "canvasser", {"feishu_id": SUN_FS})]
    for name, team, role, ids in people:
        await directory.add_staff(services.db, NewStaff(name, team, role, project="森林半岛", **ids), now)


async def test_one_office_on_four_messengers_keeps_one_ledger(
    emulator: Emulator, db_url: str, certificates: Certificates, tmp_path: Path
) -> None:
    policy = Policy(sweep_seconds=1)
    services = Services(db=Database(db_url), render=Renderer(policy.timezone), policy=policy)
    clock = morning_clock(services.policy)
    await register(services, clock.now())
    token = new_token()
    async with (FakeWeCom(certificates.server_context()) as wecom, FakeDingTalk() as dingtalk,
                FakeFeishu() as feishu):
        settings = Settings(
            telegram_bot_token=token, telegram_base_url=emulator.base_url, telegram_poll_interval=0.05,
            wecom_bot_id=wecom.bot_id, wecom_bot_secret=wecom.secret, wecom_ws_url=wecom.url,
            wecom_ca_file=certificates.ca_file, dingtalk_client_id=dingtalk.client_id,
            dingtalk_client_secret=dingtalk.secret, dingtalk_openapi_endpoint=dingtalk.base,
            feishu_app_id=feishu.app_id, feishu_app_secret=feishu.secret, feishu_domain=feishu.base,
            database_url=db_url, data_dir=tmp_path,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(serve(settings, services, clock, stop))
        try:
            await asyncio.gather(wecom.wait_subscribed(), dingtalk.wait_connected(), feishu.wait_connected())

            # Telegram: 李四 reports 张先生; the receipt to him, the card to the Telegram group.
            li = TgUser(emulator, token, LI_TG, "李四")
            await li.say(LI_TG, REPORT.format(customer="张先生", phone="138***88888", team="飞虎队", name="李四"))
            assert "回执号" in (await wait_for_bot_messages(emulator, token, LI_TG, timeout=WAIT))[0]["text"]
            assert "张先生" in (await wait_for_bot_messages(emulator, token, TG_GROUP, timeout=WAIT))[0]["text"]

            # WeCom: 王五 reports the same customer and is refused: the Telegram report holds it.
            said = await wecom.user_says(WANG_WECOM, REPORT.format(customer="张先生", phone="138***88888",
                                                                   team="猛虎队", name="王五"))
            await wecom.wait(lambda: bool(wecom.answers(said)), what="the WeCom answer")
            assert "撞单" in wecom.answers(said)[0].text and "飞虎队" in wecom.answers(said)[0].text

            # Feishu: 孙七 reports 刘女士; DingTalk: 钱八 reports 周先生, and 赵敏 confirms it on the DingTalk card.
            await feishu.say(SUN_FS, REPORT.format(customer="刘女士", phone="139***12345", team="猎豹队", name="孙七"))
            await feishu.wait(lambda: bool(feishu.cards(FS_GROUP)), what="the card in the Feishu group")
            await dingtalk.say(QIAN_DT, REPORT.format(customer="周先生", phone="137***54321", team="雄鹰队", name="钱八"))
            await dingtalk.wait(lambda: bool(dingtalk.cards(DT_GROUP)), what="the card in the DingTalk group")
            card = dingtalk.cards(DT_GROUP)[0]
            await dingtalk.press(ZHAO_DT, card, "确认")
            await dingtalk.wait(lambda: any("由 赵敏 确认" in t for t in dingtalk.texts_to(QIAN_DT)), what="钱八 told")
            assert "已确认" in dingtalk.updates(card.card_id)[0].text

            # The manager's question on DingTalk sees the Feishu report: one ledger.
            await dingtalk.say(ZHAO_DT, "/who 139***12345", group=DT_GROUP)
            await dingtalk.wait(lambda: any("孙七" in t for t in dingtalk.texts_to(DT_GROUP)), what="/who answered")

            # 21:00: the day's digest reaches the project's group on every messenger.
            local = clock.now().astimezone(ZoneInfo(policy.timezone))
            clock.set(local.replace(hour=21, minute=5))
            digest = (await wait_for_bot_messages(emulator, token, TG_GROUP, timeout=WAIT,
                                                  predicate=lambda m: "报备日报" in m["text"]))[0]["text"]
            for fake, group in ((wecom, WECOM_GROUP), (dingtalk, DT_GROUP), (feishu, FS_GROUP)):
                await fake.wait(lambda fake=fake, group=group: any("报备日报" in s.text for s in fake.to(group)),
                                what=f"the digest in {group}")
            # three reports from three messengers, one refusal from a fourth: one ledger's day
            assert "报备：3 组" in digest and "撞单被拒：1 次" in digest and "确认：1" in digest, digest
            for fake, group in ((wecom, WECOM_GROUP), (dingtalk, DT_GROUP), (feishu, FS_GROUP)):
                assert any("报备：3 组" in s.text for s in fake.to(group)), group

            # The next morning: each canvasser is reminded of the appointment on their own messenger.
            clock.set(local.replace(hour=9, minute=0) + timedelta(days=1))
            tg = await wait_for_bot_messages(emulator, token, LI_TG, timeout=WAIT,
                                             predicate=lambda m: "张先生" in m["text"])
            assert "提醒" in tg[0]["text"] or "今天" in tg[0]["text"], tg[0]["text"]
            await dingtalk.wait(lambda: any("周先生" in t and "报备已登记" not in t for t in dingtalk.texts_to(QIAN_DT)
                                            if "由 赵敏" not in t), what="钱八 reminded on DingTalk")
            await feishu.wait(lambda: any("刘女士" in t and "报备已登记" not in t for t in feishu.texts_to(SUN_FS)),
                              what="孙七 reminded on Feishu")
            assert not feishu.to(str(LI_TG)) and not dingtalk.to(str(LI_TG))  # each person on their own only
        finally:
            stop.set()
            await asyncio.wait_for(running, 60)
    ledger = Database(db_url)
    try:
        async with ledger.uow(write=False) as uow:
            customers = (await uow.session.execute(text("SELECT customer FROM report ORDER BY id"))).scalars().all()
    finally:
        await ledger.dispose()
    assert customers == ["张先生", "刘女士", "周先生"]  # one ledger: the refused report is not in it
    assert dingtalk.refused == feishu.refused == 0
