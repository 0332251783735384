"""WeCom end to end: the real `reportbot run` and the official SDK against a local long-connection server.

The office is registered with the real CLI (`project add --wecom-chat`, `staff add --wecom`); the
server (tests/fakes/wecom_server.py) serves wss:// with a certificate from a CA made for the run,
which the bot trusts through WECOM_CA_FILE.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bot.test_cli import reportbot
from tests.e2e.running import RunningBot
from tests.fakes.tls import Certificates, make_certificates
from tests.fakes.wecom_server import FakeWeCom, Sent
from tests.office import report_text

pytestmark = pytest.mark.e2e

GROUP = "wrOgQhDgAAbc123"  # the project's WeCom group chatid
RECEIPT = re.compile(r"BB-\d{8}-\d{4}")
LI, WANG, ZHAO, CHEN = "lisi", "wangwu", "zhaomin", "chenjl"  # canvassers 飞虎队/猛虎队, assistant, manager


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with the office registered through the CLI, copied for each test."""
    db = tmp_path_factory.mktemp("office") / "ledger.db"
    steps = [
        ("project", "add", "--name", "森林半岛", "--wecom-chat", GROUP),
        ("staff", "add", "--wecom", LI, "--name", "李四", "--team", "飞虎队", "--role", "canvasser", "--project", "森林半岛"),
        ("staff", "add", "--wecom", WANG, "--name", "王五", "--team", "猛虎队", "--role", "canvasser", "--project", "森林半岛"),
        ("staff", "add", "--wecom", ZHAO, "--name", "赵敏", "--team", "案场", "--role", "assistant", "--project", "森林半岛"),
        ("staff", "add", "--wecom", CHEN, "--id", "104", "--name", "陈经理", "--team", "案场", "--role", "manager"),
    ]
    for step in steps:
        done = reportbot(*step, db=db)
        assert done.returncode == 0, done.stderr
    return db


@dataclass
class Office:
    wecom: FakeWeCom
    db: Path
    bot: RunningBot

    def reports(self) -> int:
        with sqlite3.connect(self.db) as conn:
            return conn.execute("SELECT count(*) FROM report").fetchone()[0]

    async def until_reports(self, count: int, timeout: float = 30.0) -> None:
        """Until the ledger holds ``count`` reports (looked at every 50 ms)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.reports() < count:
            assert loop.time() < deadline, f"the ledger never held {count} reports"
            await asyncio.sleep(0.05)

    async def one_answer(self, callback, what: str = "") -> Sent:  # type: ignore[no-untyped-def]
        await self.wecom.wait(lambda: len(self.wecom.answers(callback)) >= 1, what=what or f"an answer to {callback.msgid}")
        return self.wecom.answers(callback)[0]

    async def card_in_group(self, count: int = 1) -> Sent:
        await self.wecom.wait(lambda: len(self.cards()) >= count, what=f"card {count} in the group")
        return self.cards()[count - 1]

    def cards(self) -> list[Sent]:
        return [s for s in self.wecom.to(GROUP) if s.cmd != "aibot_respond_update_msg" and s.buttons]

    def on_cards(self) -> dict[str, list[Sent]]:
        """Each receipt number on a card in the group → the cards (distinct texts) it is on: one card a
        report, or one card for several when the group fell behind (issue 24)."""
        found: dict[str, list[Sent]] = {}
        for text, card in {s.text: s for s in self.cards()}.items():
            for number in set(RECEIPT.findall(text)):
                found.setdefault(number, []).append(card)
        return found


def keys(wecom: FakeWeCom, certificates: Certificates) -> dict[str, str]:
    """`reportbot run` against the fake WeCom, trusting the run's own CA."""
    return {"WECOM_BOT_ID": wecom.bot_id, "WECOM_BOT_SECRET": wecom.secret, "WECOM_WS_URL": wecom.url,
            "WECOM_CA_FILE": str(certificates.ca_file)}


@pytest.fixture
async def office(registered: Path, certificates: Certificates, tmp_path: Path) -> AsyncIterator[Office]:
    db = tmp_path / "ledger.db"
    shutil.copy(registered, db)
    async with FakeWeCom(certificates.server_context()) as wecom:
        bot = RunningBot(keys(wecom, certificates), db, tmp_path)
        await bot.start()
        try:
            await wecom.wait_subscribed()
            yield Office(wecom, db, bot)
        finally:
            await bot.stop()
    assert "Traceback" not in bot.output(), bot.output()


async def test_a_report_gets_its_receipt_and_the_group_gets_a_card(office: Office) -> None:
    said = await office.wecom.user_says(LI, report_text())
    receipt = await office.one_answer(said)
    assert receipt.cmd == "aibot_respond_msg" and receipt.body["msgtype"] == "stream"
    assert "回执号" in receipt.text and "138***88888" in receipt.text and "李四" in receipt.text
    card = await office.card_in_group()
    assert card.cmd == "aibot_send_msg" and card.body["template_card"]["card_type"] == "button_interaction"
    assert card.buttons == ["确认", "驳回"] and "张先生" in card.text
    assert office.reports() == 1


async def test_a_colleague_reporting_the_same_customer_is_refused(office: Office) -> None:
    await office.one_answer(await office.wecom.user_says(LI, report_text()))
    refusal = await office.one_answer(await office.wecom.user_says(WANG, report_text(team="猛虎队", who="王五")))
    assert "撞单" in refusal.text or "已被" in refusal.text, refusal.text
    assert "飞虎队" in refusal.text
    assert office.reports() == 1


async def test_the_assistant_confirms_on_the_card_which_is_updated_in_place_and_the_canvasser_is_told(office: Office) -> None:
    await office.one_answer(await office.wecom.user_says(LI, report_text()))
    card = await office.card_in_group()

    not_allowed = await office.wecom.press(WANG, card, "确认")
    await office.wecom.wait(lambda: len(office.wecom.to(WANG)) >= 1, what="the canvasser told he may not decide")
    assert "只有销售助理或经理" in office.wecom.to(WANG)[0].text
    assert office.wecom.answers(not_allowed) == []

    pressed = await office.wecom.press(ZHAO, card, "确认")
    update = await office.one_answer(pressed)
    assert update.cmd == "aibot_respond_update_msg"
    assert update.body["template_card"]["task_id"] == card.body["template_card"]["task_id"]
    assert "已确认" in update.text and "赵敏" in update.text and update.buttons == []
    await office.wecom.wait(lambda: any("由 赵敏 确认" in s.text for s in office.wecom.to(LI)), what="the canvasser told")


async def test_reject_asks_for_a_reason_on_the_card_then_rejects(office: Office) -> None:
    await office.one_answer(await office.wecom.user_says(LI, report_text()))
    card = await office.card_in_group()
    menu = await office.one_answer(await office.wecom.press(ZHAO, card, "驳回"))
    assert "请选择驳回原因" in menu.text and "返回" in menu.buttons
    rejected = await office.one_answer(await office.wecom.press(ZHAO, menu, menu.buttons[0]))
    assert "已驳回" in rejected.text
    await office.wecom.wait(lambda: any("被 赵敏 驳回" in s.text for s in office.wecom.to(LI)), what="the canvasser told")


async def test_who_in_the_group_after_the_mention_is_stripped(office: Office) -> None:
    await office.one_answer(await office.wecom.user_says(LI, report_text()))
    asked = await office.wecom.user_says(ZHAO, "@报备助手 /who 138***88888", chatid=GROUP)
    answer = await office.one_answer(asked)
    assert answer.chat == GROUP and "李四" in answer.text and "飞虎队" in answer.text


async def test_a_report_in_the_group_is_answered_there_by_the_card(office: Office) -> None:
    said = await office.wecom.user_says(WANG, "@报备助手 " + report_text(customer="刘女士", phone="139***12345",
                                                                          team="猛虎队", who="王五"), chatid=GROUP)
    card = await office.one_answer(said)
    assert card.chat == GROUP and card.body["msgtype"] == "template_card" and "刘女士" in card.text


async def test_a_group_that_is_not_a_project_group_is_told_how_to_register_it(office: Office) -> None:
    answer = await office.one_answer(await office.wecom.user_says(ZHAO, "@报备助手 /who 138***88888", chatid="wrOTHER"))
    assert "--wecom-chat wrOTHER" in answer.text


async def test_an_unregistered_member_is_told_their_userid_and_whom_to_ask(office: Office) -> None:
    answer = await office.one_answer(await office.wecom.user_says("stranger01", "/mine"))
    assert "stranger01" in answer.text and "企业微信" in answer.text and "销售助理" in answer.text


async def test_the_same_callback_twice_is_recorded_once_and_answered_once(office: Office) -> None:
    said = await office.wecom.user_says(LI, report_text())
    await office.one_answer(said)
    again = await office.wecom.raise_again(said)
    probe = await office.wecom.user_says(LI, "/mine")  # answered only after the repeat was taken
    await office.one_answer(probe)
    assert office.wecom.answers(again) == [office.wecom.answers(said)[0]]  # the first answer, no second one
    assert office.reports() == 1
    assert len(office.cards()) == 1


async def test_a_clean_close_by_the_server_is_followed_by_a_new_connection(office: Office) -> None:
    await office.wecom.close_cleanly(1001)
    await office.wecom.wait_subscribed(2)
    receipt = await office.one_answer(await office.wecom.user_says(LI, report_text()))
    assert "回执号" in receipt.text


async def test_an_answer_lost_when_the_bot_stopped_is_sent_when_it_starts_again(office: Office) -> None:
    office.wecom.mute = True  # the receipt never arrives
    said = await office.wecom.user_says(LI, report_text())
    await office.until_reports(1)
    await office.bot.stop()
    assert office.wecom.answers(said) == [] and office.wecom.to(LI) == []
    office.wecom.mute = False
    await office.bot.start()
    await office.wecom.wait_subscribed(2)
    await office.wecom.wait(lambda: any("回执号" in s.text for s in office.wecom.to(LI)), what="the receipt, pushed")
    probe = await office.wecom.user_says(LI, "/mine")
    await office.one_answer(probe)
    assert len([s for s in office.wecom.to(LI) if "回执号" in s.text]) == 1
    assert office.reports() == 1


def only_cut_in_flight_twice(said: list[Sent]) -> None:
    """A message arrives twice only when the drop cut it in flight, and then twice at most: once on the
    first connection, once more on the next. WeCom took it, but the robot never learnt so (the 回包 did
    not reach it, or the SDK cancelled the reply's wait when the connection closed), so it rightly sent
    it again once it was connected again."""
    for text in {s.text for s in said}:
        copies = [s for s in said if s.text == text]
        assert len(copies) == 1 or [c.connection for c in copies] == [1, 2], [(c.connection, c.text) for c in copies]


async def test_a_drop_mid_burst_loses_no_report_and_answers_each_once(office: Office) -> None:
    people = [f"burst{i:02d}" for i in range(8)]
    for i, person in enumerate(people):
        done = reportbot("staff", "add", "--wecom", person, "--name", f"队员{chr(0x4E00 + i)}", "--team", "飞虎队",
                         "--role", "canvasser", "--project", "森林半岛", db=office.db)
        assert done.returncode == 0, done.stderr
    def report(i: int, n: int = 0) -> str:  # person i's n-th report: a customer of its own
        k = i * 10 + n
        return report_text(customer=f"客户{chr(0x4E00 + k)}", phone=f"138***{10000 + k}", who=f"队员{chr(0x4E00 + i)}")

    # The bot answers a report in about a millisecond: the first wave is large enough for the drop to cut it.
    wave = [(i, person, n) for n in range(4) for i, person in enumerate(people[:5])]
    calls = [await office.wecom.user_says(person, report(i, n)) for i, person, n in wave]
    await office.wecom.wait(lambda: sum(bool(office.wecom.answers(c)) for c in calls) >= 2, what="the burst under way")
    await office.wecom.drop()
    calls += [await office.wecom.user_says(person, report(i)) for i, person in enumerate(people[5:], start=5)]
    await office.wecom.wait_subscribed(2)
    expected = {person: sum(1 for _, p, _ in wave if p == person) or 1 for person in people}
    for person in people:
        await office.wecom.wait(
            lambda person=person: len({s.text for s in office.wecom.to(person) if "回执号" in s.text}) >= expected[person],
            what=f"the receipts of {person}")
    # The cards queue behind the group's send limit (transport.build): a minute or so for these.
    # Counted by text, as the receipts: a card the drop cut in flight arrives twice, and must not stand in
    # for one still queued.
    await office.wecom.wait(lambda: len(office.on_cards()) >= len(calls), timeout=150,
                            what="every report on a card in the group")
    probe = await office.wecom.user_says(LI, "/mine")  # the last thing the bot takes: everything before is done
    await office.one_answer(probe)
    for person in people:
        receipts = [s for s in office.wecom.to(person) if "回执号" in s.text]
        assert len({s.text for s in receipts}) == expected[person], (person, [s.text for s in receipts])
        only_cut_in_flight_twice(receipts)
    numbers = {n for person in people for s in office.wecom.to(person) for n in RECEIPT.findall(s.text)}
    assert set(office.on_cards()) == numbers and len(numbers) == len(calls)
    only_cut_in_flight_twice(office.cards())
    for number, cards in office.on_cards().items():  # on a second card only when the first was cut in flight
        assert len(cards) == 1 or (len(cards) == 2 and cards[0].connection == 1), (number, [c.text for c in cards])
    assert office.reports() == len(calls)
    first = {msgid for connection, msgid in office.wecom.pushes if connection == 1}
    again = {msgid for connection, msgid in office.wecom.pushes if connection == 2} & first
    assert again, "the drop left no callback unanswered: the burst was not cut in the middle"


async def test_a_group_behind_its_pace_gets_a_gathered_card_whose_reports_are_picked_from_its_list(
    office: Office,
) -> None:
    """Issue 24 on WeCom: 16 reports at once; the group's cards go at WeCom's pace (30 a minute, 5 at once), so
    the cards that queued meanwhile go out as one card with a list of its reports (at most 10) and 确认所选 /
    驳回所选 / 全部确认. Each report is on one card, in order; each is decided there, the canvasser told."""
    calls = []
    for n in range(8):
        for user, team, who in ((LI, "飞虎队", "李四"), (WANG, "猛虎队", "王五")):
            k = n * 2 + (user == WANG)
            calls.append(await office.wecom.user_says(
                user, report_text(customer=f"客户{chr(0x4E00 + k)}", phone=f"138***{20000 + k}", team=team, who=who)))
    for call in calls:
        assert "回执号" in (await office.one_answer(call)).text
    await office.wecom.wait(lambda: len(office.on_cards()) >= 16, timeout=60, what="every report on a card")
    cards = list({s.text: s for s in office.cards()}.values())
    numbers = [n for card in cards for n in RECEIPT.findall(card.text)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 16 and len(numbers) == 16
    gathered = [card for card in cards if card.options]
    assert gathered and len(cards) < 16
    card = gathered[0]
    assert card.buttons == ["确认所选", "驳回所选", "全部确认"] and len(card.options) == len(RECEIPT.findall(card.text))
    assert 2 <= len(card.options) <= 10 and card.options[0].startswith("1. 客户")
    first, second = card.options[0], card.options[1]

    not_picked = await office.wecom.press(ZHAO, card, "确认所选")
    await office.wecom.wait(lambda: any("请先在卡片上“选择报备”" in s.text for s in office.wecom.to(ZHAO)),
                            what="the assistant asked to pick a report first")
    assert office.wecom.answers(not_picked) == []

    confirmed = await office.one_answer(await office.wecom.press(ZHAO, card, "确认所选", pick=first))
    assert confirmed.cmd == "aibot_respond_update_msg" and "✅ 已确认 — 赵敏" in confirmed.text
    assert first not in confirmed.options and second in confirmed.options
    menu = await office.one_answer(await office.wecom.press(ZHAO, confirmed, "驳回所选", pick=second))
    assert "请选择第 2 组" in menu.text and menu.buttons == ["格式错误", "信息不实", "重复", "其他", "返回"]
    rejected = await office.one_answer(await office.wecom.press(ZHAO, menu, "重复"))
    assert "❌ 已驳回（重复）— 赵敏" in rejected.text
    done = await office.one_answer(await office.wecom.press(ZHAO, rejected, "全部确认"))
    assert done.buttons == [] and "待确认" not in done.text and not done.options

    on_card = RECEIPT.findall(card.text)
    with sqlite3.connect(office.db) as conn:
        status = dict(conn.execute("SELECT receipt_no, status FROM report").fetchall())
    assert [status[n] for n in on_card] == ["confirmed", "rejected"] + ["confirmed"] * (len(on_card) - 2)
    told = lambda n: any(n in s.text and "赵敏" in s.text for s in office.wecom.to(LI) + office.wecom.to(WANG))
    await office.wecom.wait(lambda: all(told(n) for n in on_card), what="each canvasser told of each decision")
