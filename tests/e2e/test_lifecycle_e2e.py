"""The lifecycle end to end: a visit decided and announced in the group; an expiry told in private."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reportbot.rules.reminders import quiet
from tests.e2e.conftest import GROUP, REPORT, Office

pytestmark = [pytest.mark.e2e]


async def test_a_visit_is_decided_and_announced_in_the_group_and_to_the_owner(office: Office) -> None:
    await office.li.say(101, REPORT.format(customer="张先生", phone="138***88888", team="飞虎队", name="李四"))
    await office.next_in(101)
    await office.next_in(GROUP)
    await office.zhao.say(GROUP, "/visit 138***88888 同行：1")
    announcement = (await office.next_in(GROUP))[0]["text"]
    assert "判客结果" in announcement and "归属：李四（飞虎队）" in announcement and "报备在先" in announcement
    assert "归属：李四（飞虎队）" in (await office.next_in(101))[0]["text"]


async def test_an_expired_report_is_told_to_the_canvasser_in_private(office: Office) -> None:
    await office.wang.say(103, REPORT.format(customer="钱女士", phone="139***12345", team="猛虎队", name="王五"))
    receipt = (await office.next_in(103))[0]["text"]
    await office.next_in(GROUP)
    # Nine days later, in office hours: the report has expired and the sweep tells its canvasser.
    later = office.clock.now() + timedelta(days=9)
    while quiet(later, office.transport.services.policy):
        later += timedelta(hours=1)
    office.clock.set(later)
    await office.transport.sweeper.run_once()
    texts = [m["text"] for m in await office.next_in(103, count=1)]
    receipt_no = receipt.split("回执号：")[1].split("\n")[0]
    assert any("已失效" in t and receipt_no in t for t in texts)
