"""DingTalk and Feishu end to end: the real `reportbot run` with the official SDKs against local messengers.

The office is registered with the real CLI (`project add --dingtalk-chat/--feishu-chat`, `staff add
--dingtalk/--feishu`); the fakes (tests/fakes/dingtalk_server.py, feishu_server.py) serve each messenger's
long connection and OpenAPI at DINGTALK_OPENAPI_ENDPOINT / FEISHU_DOMAIN. Every test runs on both.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.running import RunningBot, register
from tests.fakes.dingtalk_server import FakeDingTalk
from tests.fakes.feishu_server import FakeFeishu
from tests.fakes.messenger import Sent
from tests.office import customer, report_text

pytestmark = pytest.mark.e2e

RECEIPT = re.compile(r"BB-\d{8}-\d{4}")
REPORTS = "SELECT count(*) FROM report"
Fake = FakeDingTalk | FakeFeishu


@dataclass(frozen=True)
class Messenger:
    name: str  # dingtalk | feishu
    label: str  # how a person sees its name
    group: str  # the project's group
    other_group: str  # a group that is not a project's
    li: str  # canvasser 李四 (飞虎队)
    wang: str  # canvasser 王五 (猛虎队)
    zhao: str  # assistant 赵敏
    chen: str  # manager 陈经理
    make: Callable[[], Fake]

    @property
    def replies_by(self) -> str:
        """DingTalk answers a chat message on its sessionWebhook; Feishu sends every message by the OpenAPI."""
        return "webhook" if self.name == "dingtalk" else "openapi"

    def keys(self, fake: Fake) -> dict[str, str]:
        return messenger_keys(fake)


def messenger_keys(fake: Fake) -> dict[str, str]:
    if isinstance(fake, FakeDingTalk):
        return {"DINGTALK_CLIENT_ID": fake.client_id, "DINGTALK_CLIENT_SECRET": fake.secret,
                "DINGTALK_OPENAPI_ENDPOINT": fake.base}
    return {"FEISHU_APP_ID": fake.app_id, "FEISHU_APP_SECRET": fake.secret, "FEISHU_DOMAIN": fake.base}


DINGTALK = Messenger("dingtalk", "钉钉", "cidQ7kZ2sJ9xYw+Ab/Cd==", "cidOTHER", "manager4521", "wangwu02", "zhaomin03",
                     "chenjl05", FakeDingTalk)
FEISHU = Messenger("feishu", "飞书", "oc_a0553eda9014c201e6969b478895c230", "oc_other",
                   "ou_7d8a6e6df7621556ce0d21922b676706", "ou_2b3c", "ou_9f8e", "ou_c4e5", FakeFeishu)


@pytest.fixture(scope="module", params=[DINGTALK, FEISHU], ids=lambda m: m.name)
def messenger(request: pytest.FixtureRequest) -> Messenger:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def registered(messenger: Messenger, tmp_path_factory: pytest.TempPathFactory) -> Path:
    flag = f"--{messenger.name}"
    return register(tmp_path_factory.mktemp("office") / "ledger.db", [
        ("project", "add", "--name", "森林半岛", f"{flag}-chat", messenger.group),
        ("staff", "add", flag, messenger.li, "--name", "李四", "--team", "飞虎队", "--role", "canvasser", "--project", "森林半岛"),
        ("staff", "add", flag, messenger.wang, "--name", "王五", "--team", "猛虎队", "--role", "canvasser", "--project", "森林半岛"),
        ("staff", "add", flag, messenger.zhao, "--name", "赵敏", "--team", "案场", "--role", "assistant", "--project", "森林半岛"),
        ("staff", "add", flag, messenger.chen, "--name", "陈经理", "--team", "案场", "--role", "manager", "--project", "森林半岛"),
    ])


@dataclass
class Office:
    fake: Fake
    bot: RunningBot
    m: Messenger

    async def answer_to(self, chat: str, before: int = 0, what: str = "") -> Sent:
        await self.fake.wait(lambda: len(self.fake.to(chat)) > before, what=what or f"an answer to {chat}")
        return self.fake.to(chat)[before]

    async def card(self, count: int = 1) -> Sent:
        await self.fake.wait(lambda: len(self.fake.cards(self.m.group)) >= count, what=f"card {count} in the group")
        return self.fake.cards(self.m.group)[count - 1]


@pytest.fixture
async def office(messenger: Messenger, registered: Path, tmp_path: Path) -> AsyncIterator[Office]:
    db = tmp_path / "ledger.db"
    shutil.copy(registered, db)
    async with messenger.make() as fake:
        bot = RunningBot(messenger.keys(fake), db, tmp_path)
        await bot.start()
        try:
            await fake.wait_connected()
            yield Office(fake, bot, messenger)
        finally:
            await bot.stop()
    assert "Traceback" not in bot.output(), bot.output()
    assert fake.refused == 0, f"a send went past {messenger.name}'s limit"


async def test_a_report_gets_its_receipt_and_the_group_a_card(office: Office) -> None:
    said = await office.fake.say(office.m.li, report_text())
    receipt = await office.answer_to(office.m.li)
    assert receipt.via == office.m.replies_by and "回执号" in receipt.text and "138***88888" in receipt.text
    card = await office.card()
    assert card.labels == ["确认", "驳回"] and "张先生" in card.text and card.via == "openapi"
    assert office.fake.acks[said] == 200
    assert office.bot.count(REPORTS) == 1


async def test_a_colleague_reporting_the_same_customer_is_refused(office: Office) -> None:
    await office.fake.say(office.m.li, report_text())
    await office.answer_to(office.m.li)
    await office.fake.say(office.m.wang, report_text(team="猛虎队", who="王五"))
    refusal = await office.answer_to(office.m.wang)
    assert "飞虎队" in refusal.text and ("撞单" in refusal.text or "已被" in refusal.text), refusal.text
    assert office.bot.count(REPORTS) == 1


async def test_a_canvassers_press_is_refused_to_him_alone_and_the_assistants_updates_the_card(office: Office) -> None:
    await office.fake.say(office.m.li, report_text())
    card = await office.card()
    told_li = len(office.fake.to(office.m.li))
    await office.fake.press(office.m.wang, card, "确认")
    refusal = await office.answer_to(office.m.wang)
    assert "只有销售助理或经理" in refusal.text
    assert office.fake.updates(card.card_id) == []

    await office.fake.press(office.m.zhao, card, "确认")
    await office.fake.wait(lambda: bool(office.fake.updates(card.card_id)), what="the card updated")
    update = office.fake.updates(card.card_id)[0]
    assert "已确认" in update.text and "赵敏" in update.text and update.buttons == []
    await office.fake.wait(lambda: any("由 赵敏 确认" in t for t in office.fake.texts_to(office.m.li)[told_li:]),
                               what="the canvasser told")
    assert [s.text for s in office.fake.to(office.m.zhao)] == []  # nothing private for the one who decided


async def test_who_and_a_report_in_the_group_after_the_mention(office: Office) -> None:
    await office.fake.say(office.m.wang, "@报备助手 " + report_text(customer="刘女士", phone="139***12345", team="猛虎队",
                                                                who="王五"), group=office.m.group)
    card = await office.card()
    assert "刘女士" in card.text
    before = len(office.fake.to(office.m.group))
    await office.fake.say(office.m.zhao, "@报备助手 /who 139***12345", group=office.m.group)
    answer = await office.answer_to(office.m.group, before)
    assert "王五" in answer.text and "猛虎队" in answer.text and answer.via == office.m.replies_by


async def test_a_group_not_registered_and_a_stranger_are_told_what_to_do(office: Office) -> None:
    await office.fake.say(office.m.zhao, "@报备助手 /who 138***88888", group=office.m.other_group)
    assert f"--{office.m.name}-chat {office.m.other_group}" in (await office.answer_to(office.m.other_group)).text
    await office.fake.say("stranger01", "/mine")
    answer = await office.answer_to("stranger01")
    assert "stranger01" in answer.text and office.m.label in answer.text


async def test_the_same_message_delivered_twice_is_recorded_and_answered_once(office: Office) -> None:
    said = await office.fake.say(office.m.li, report_text())
    await office.answer_to(office.m.li)
    await office.fake.resend(said)  # DingTalk's re-delivery: the same frame, the same msgId
    await office.fake.say(office.m.li, "/mine")
    await office.answer_to(office.m.li, 1)  # the probe's answer comes after the repeat was taken
    assert len([t for t in office.fake.texts_to(office.m.li) if "回执号" in t]) == 1
    assert office.bot.count(REPORTS) == 1 and len(office.fake.cards(office.m.group)) == 1


@pytest.mark.parametrize("messenger", [DINGTALK], indirect=True, ids=["dingtalk"])
async def test_an_expired_session_webhook_falls_back_to_the_openapi(office: Office) -> None:
    assert isinstance(office.fake, FakeDingTalk)
    office.fake.webhook_expired = True
    await office.fake.say(office.m.li, report_text())
    receipt = await office.answer_to(office.m.li)
    assert receipt.via == "openapi" and "回执号" in receipt.text


async def test_a_dropped_connection_is_opened_again_and_nothing_is_lost(office: Office) -> None:
    await office.fake.drop()
    await office.fake.wait_connected(2)
    await office.fake.say(office.m.li, report_text())
    assert "回执号" in (await office.answer_to(office.m.li)).text
    assert office.fake.unacked() == []


async def test_a_drop_mid_burst_loses_no_report_and_answers_each_once(office: Office) -> None:
    """The connection cut right after a message was pushed, before its acknowledgement could arrive: the
    messenger sends it again on the next connection, and it is recorded and answered once."""
    for n in range(8):
        await office.fake.say(office.m.li, report_text(customer=customer(n), phone=f"139***{n + 20000:05d}"))
        if n == 3:
            await office.fake.drop()
            await office.fake.wait_connected(2)
    await office.fake.wait(lambda: len([t for t in office.fake.texts_to(office.m.li) if "报备已登记" in t]) >= 8,
                           what="8 receipts")
    await office.fake.say(office.m.li, "/mine")
    await office.fake.wait(lambda: any("报备已登记" not in t for t in office.fake.texts_to(office.m.li)), what="/mine")
    receipts = [RECEIPT.search(t).group() for t in office.fake.texts_to(office.m.li) if "报备已登记" in t]  # type: ignore[union-attr]
    assert len(receipts) == len(set(receipts)) == 8
    assert office.bot.count(REPORTS) == 8 and office.fake.unacked() == []


async def test_an_openapi_outage_is_waited_out_and_a_send_whose_answer_was_lost_is_posted_once(office: Office) -> None:
    """Two sends refused (503), then sends taken whose answers were lost: retried with the same key, each
    message is posted once — Feishu's by its uuid, DingTalk's card by its cardBizId. (DingTalk's text sends take
    no such key: there only the card goes through the OpenAPI here, the receipt by the sessionWebhook.)"""
    office.fake.unavailable, office.fake.lose_answers = 2, (1 if isinstance(office.fake, FakeDingTalk) else 2)
    await office.fake.say(office.m.li, report_text())
    card = await office.card()
    await office.fake.wait(lambda: any("报备已登记" in t for t in office.fake.texts_to(office.m.li)), what="the receipt")
    await office.fake.say(office.m.li, "/mine")
    await office.fake.wait(lambda: any("报备已登记" not in t for t in office.fake.texts_to(office.m.li)), what="/mine")
    assert len([t for t in office.fake.texts_to(office.m.li) if "报备已登记" in t]) == 1
    assert office.fake.cards(office.m.group) == [card] and office.fake.unavailable == office.fake.lose_answers == 0


async def test_a_chat_the_robot_left_is_given_up_and_the_rest_goes_on(office: Office) -> None:
    gone = "cidGONE" if office.m.name == "dingtalk" else "oc_gone"
    if isinstance(office.fake, FakeDingTalk):
        office.fake.webhook_expired = True  # the answer goes through the OpenAPI, which knows the robot left
    await office.fake.say(office.m.zhao, "@报备助手 /who 138***88888", group=gone)  # answered into a chat it left
    await office.fake.say(office.m.li, "/mine")
    await office.answer_to(office.m.li)
    assert office.fake.to(gone) == []
    await office.bot.stop()
    assert "giving up on a message to " + gone in office.bot.output()


async def test_a_callback_taken_but_unanswered_at_a_kill_is_answered_after_the_restart(office: Office) -> None:
    """Acknowledged once spooled: a kill right after loses nothing, and the next start records it once. Its
    receipt arrives; twice only if the kill fell between sending it and recording it as sent (at least once)."""
    said = await office.fake.say(office.m.li, report_text())
    await office.fake.wait_acked(said)
    await office.bot.kill()
    await office.bot.start()
    await office.fake.wait_connected(2)
    await office.fake.wait(lambda: any("回执号" in t for t in office.fake.texts_to(office.m.li)), what="the receipt")
    await office.fake.say(office.m.li, "/mine")
    await office.fake.wait(lambda: any("报备已登记" not in t for t in office.fake.texts_to(office.m.li)),
                           what="the probe's answer")
    receipts = [t for t in office.fake.texts_to(office.m.li) if "报备已登记" in t]
    assert 1 <= len(receipts) <= 2 and len({RECEIPT.search(t).group() for t in receipts}) == 1  # type: ignore[union-attr]
    assert office.bot.count(REPORTS) == 1


async def test_a_burst_within_the_messengers_limit_loses_nothing(office: Office) -> None:
    """24 reports at once from two canvassers: each recorded and answered once, every report on a card in the
    group, and no send past the messenger's limit in any chat (the fixture checks: the fakes refuse it)."""
    for n in range(24):
        who, team = (office.m.li, "李四") if n % 2 == 0 else (office.m.wang, "王五")
        await office.fake.say(who, report_text(customer=customer(n), phone=f"139***{n + 10000:05d}",
                                                   team="飞虎队" if who == office.m.li else "猛虎队", who=team))
    await office.fake.wait(lambda: len(office.fake.to(office.m.li)) + len(office.fake.to(office.m.wang)) >= 24, timeout=60,
                               what="24 answers")
    assert office.bot.count(REPORTS) == 24, [t[:80] for t in office.fake.texts_to(office.m.li) if "回执号" not in t]
    await office.fake.wait(lambda: len(RECEIPT.findall(" ".join(c.text for c in office.fake.cards(office.m.group)))) >= 24,
                               timeout=120, what="every report on a card")
    numbers = RECEIPT.findall(" ".join(c.text for c in office.fake.cards(office.m.group)))
    assert len(numbers) == len(set(numbers)) == 24
    if office.m.name == "dingtalk":  # 20 a minute: the group fell behind, and its cards were gathered
        assert len(office.fake.cards(office.m.group)) < 24
    else:  # Feishu lets 5 a second into a group: no need to gather
        assert len(office.fake.cards(office.m.group)) == 24
    receipts = [t for who in (office.m.li, office.m.wang) for t in office.fake.texts_to(who) if "回执号" in t]
    assert len(receipts) == 24


async def test_export_says_where_to_get_the_workbook_as_these_robots_send_no_files(office: Office) -> None:
    await office.fake.say(office.m.li, report_text())
    await office.answer_to(office.m.li)
    await office.fake.say(office.m.chen, "/export")
    answer = await office.answer_to(office.m.chen)
    assert "报备台账" in answer.text and "报备 1 条" in answer.text, answer.text
    assert f"{office.m.label}上机器人暂时不能发送文件" in answer.text and "reportbot export" in answer.text
