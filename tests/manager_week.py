"""The scripted week of the manager tools' tests (see tests/handlers/test_manager_stats.py for the hand count).

Reports are valid one day (policy ``report_window_days = 1``) so that expiries happen within the week.
"""

from __future__ import annotations

from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.sweep import sweep
from reportbot.rules.policy import Policy
from tests.conftest import local
from tests.office import GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text

SUN, ADMIN, OTHER = "106", "105", "108"  # 孙七 (飞虎队, then 猛虎队), the admin, a canvasser of another project
WEEK_POLICY = Policy(report_window_days=1)


async def scripted_week(svc: Services) -> Chat:
    """The week of the hand count; the returned chat stands at Sunday 20:00."""
    await open_office(svc)
    when = local("2026-11-20 09:00")
    await directory.add_staff(svc.db, NewStaff("孙七", "飞虎队", "canvasser", SUN, project="森林半岛"), when)
    await directory.add_staff(svc.db, NewStaff("管理员", "总部", "admin", ADMIN, project="森林半岛"), when)
    await directory.add_project(svc.db, "江景湾", "-1005678", None, when)
    await directory.add_staff(svc.db, NewStaff("周八", "海燕队", "canvasser", OTHER, project="江景湾"), when)
    chat = Chat(svc, "2026-11-23 09:00")
    card = only(await chat.say(LI, report_text(phone="138***00001")), GROUP)
    await chat.say(WANG, report_text(customer="钱女士", phone="138***00001", team="猛虎队", who="王五"))
    await chat.say(SUN, report_text(customer="孙先生", phone="139***00002", who="孙七", when="明天上午10点"))
    rejected = only(await chat.say(WANG, report_text(customer="周先生", phone="137***00003", team="猛虎队", who="王五")),
                    GROUP)
    await chat.press(ZHAO, card, "确认")
    menu = next(a for a in await chat.press(ZHAO, rejected, "驳回") if hasattr(a, "buttons") and a.buttons)
    await chat.press(ZHAO, menu, "格式错误")  # type: ignore[arg-type]
    await chat.say(OTHER, report_text(customer="吴先生", phone="135***00009", team="海燕队", who="周八"))

    await chat.at("2026-11-24 15:00").say(ZHAO, "/visit 138***00001")
    await chat.at("2026-11-24 15:10").say(ZHAO, "/deal 138***00001 认购3号楼")
    await chat.at("2026-11-24 16:00").say(ZHAO, "/visit 150***00004 带客：王五")
    await chat.at("2026-11-24 16:30").say(ZHAO, "/visit 151***00005")

    await sweep(svc, local("2026-11-25 08:00"), "console")
    await chat.at("2026-11-25 10:00").say(SUN, report_text(customer="孙先生", phone="139***00002", who="孙七",
                                                           extra="\n原因：客户出差"))
    await chat.at("2026-11-25 12:00").say(ADMIN, "/move 孙七 猛虎队")
    await chat.at("2026-11-25 14:00").say(SUN, report_text(customer="赵女士", phone="136***00006", team="猛虎队",
                                                           who="孙七"))
    await chat.at("2026-11-25 14:05").say(LI, report_text(customer="赵女士", phone="136***00006"))

    await sweep(svc, local("2026-11-27 08:00"), "console")
    await chat.at("2026-11-27 10:00").say(WANG, report_text(customer="孙先生", phone="139***00002", team="猛虎队",
                                                            who="王五", when="明天上午10点"))
    await chat.at("2026-11-27 11:00").say(ZHAO, "/deal 151***00005")
    await chat.at("2026-11-30 10:00").say(LI, report_text(customer="郑先生", phone="158***00007"))
    return chat.at("2026-11-29 20:00")
