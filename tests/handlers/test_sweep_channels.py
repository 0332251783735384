"""Reminders and digests go out on whichever running channel the person or group is on (issue 9)."""

from __future__ import annotations

from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.messages import Incoming, Send
from reportbot.handlers.router import handle_message
from reportbot.handlers.sweep import sweep
from tests.conftest import local
from tests.office import report_text

TG_GROUP, WECOM_GROUP = "-1001234", "wrGROUP"


async def office(svc: Services) -> None:
    """A project with a Telegram group and a WeCom group; 李四 only on WeCom, 王五 on both."""
    at = local("2026-11-20 09:00")
    await directory.add_project(svc.db, "森林半岛", TG_GROUP, WECOM_GROUP, at)
    await directory.add_staff(svc.db, NewStaff("李四", "飞虎队", "canvasser", None, "lisi", "森林半岛"), at)
    await directory.add_staff(svc.db, NewStaff("王五", "猛虎队", "canvasser", "103", "wangwu", "森林半岛"), at)


async def report(svc: Services, user: str, text: str) -> None:
    msg = Incoming("wecom", user, user, False, text, local("2026-11-23 10:00"))
    assert "回执号" in (await handle_message(msg, svc))[0].text  # type: ignore[union-attr]


def sends(actions: list, containing: str = "") -> list[tuple[str | None, str]]:  # type: ignore[type-arg]
    return sorted((a.channel, a.chat_id) for a in actions if isinstance(a, Send) and containing in a.text)


async def test_a_wecom_only_canvasser_is_reminded_on_wecom_by_a_process_running_both(svc: Services) -> None:
    await office(svc)
    await report(svc, "lisi", report_text())
    due = await sweep(svc, local("2026-11-24 09:00"), ("telegram", "wecom"))
    assert ("wecom", "lisi") in sends(due)


async def test_a_person_on_both_channels_is_reminded_once_on_the_first_running_one(svc: Services) -> None:
    await office(svc)
    await report(svc, "wangwu", report_text(team="猛虎队", who="王五"))
    due = [s for s in sends(await sweep(svc, local("2026-11-24 09:00"), ("wecom", "telegram"))) if s[1] in ("103", "wangwu")]
    assert due == [("wecom", "wangwu")]


async def test_a_process_running_only_telegram_does_not_claim_a_reminder_it_cannot_deliver_elsewhere(svc: Services) -> None:
    await office(svc)
    await report(svc, "lisi", report_text())
    assert ("wecom", "lisi") not in sends(await sweep(svc, local("2026-11-24 09:00"), ("telegram",)))


async def test_the_digest_goes_to_the_projects_group_on_every_running_channel(svc: Services) -> None:
    await office(svc)
    await report(svc, "lisi", report_text())
    due = await sweep(svc, local("2026-11-23 21:00"), ("telegram", "wecom"))
    assert sends(due, "报备日报") == [("telegram", TG_GROUP), ("wecom", WECOM_GROUP)]


DT_GROUP, FS_GROUP = "cidGROUP==", "oc_group"
FOUR = ("telegram", "wecom", "dingtalk", "feishu")


async def office_on_four(svc: Services) -> None:
    """One project with a group on each of the four messengers; each canvasser on one of them."""
    at = local("2026-11-20 09:00")
    await directory.add_project(svc.db, "森林半岛", TG_GROUP, WECOM_GROUP, at, dingtalk_chat_id=DT_GROUP,
                                feishu_chat_id=FS_GROUP)
    for name, ids in (("李四", {"dingtalk_id": "li4521"}), ("王五", {"feishu_id": "ou_wang"}),
                      ("赵六", {"wecom_id": "zhaoliu"}), ("钱七", {"telegram_id": "107"})):
        await directory.add_staff(svc.db, NewStaff(name, "飞虎队", "canvasser", project="森林半岛", **ids), at)


async def test_a_canvasser_on_dingtalk_or_feishu_is_reminded_there(svc: Services) -> None:
    await office_on_four(svc)
    await handle_message(Incoming("dingtalk", "li4521", "li4521", False, report_text(), local("2026-11-23 10:00")), svc)
    text = report_text(customer="刘女士", phone="139***12345", who="王五")
    await handle_message(Incoming("feishu", "ou_wang", "ou_wang", False, text, local("2026-11-23 10:00")), svc)
    due = sends(await sweep(svc, local("2026-11-24 09:00"), FOUR))
    assert ("dingtalk", "li4521") in due and ("feishu", "ou_wang") in due
    assert not {chat for _, chat in due} & {"107", "zhaoliu"}  # nothing for those with nothing due


async def test_the_digest_goes_to_the_group_on_each_of_the_four_messengers(svc: Services) -> None:
    await office_on_four(svc)
    await handle_message(Incoming("dingtalk", "li4521", "li4521", False, report_text(), local("2026-11-23 10:00")), svc)
    due = await sweep(svc, local("2026-11-23 21:00"), FOUR)
    assert sends(due, "报备日报") == sorted(zip(FOUR, (TG_GROUP, WECOM_GROUP, DT_GROUP, FS_GROUP), strict=True))
