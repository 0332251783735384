"""/stats on a known scripted week, on SQLite and PostgreSQL: the numbers match the ones counted by hand.

The week (Monday 23 – Sunday 29 November 2026, reports valid one day so that expiries happen within it):

  Mon  李四 reports A (R1);  王五 reports A too: duplicate refused;  孙七 reports B (R2);  王五 reports C (R3)
       赵敏 confirms R1 and rejects R3
  Tue  A visits (R1 → 李四) and buys;  D visits, brought by 王五;  E visits, nobody's (natural)
  Wed  R2 has expired;  孙七 re-reports B with a reason (R4);  the admin moves 孙七 from 飞虎队 to 猛虎队;
       孙七 reports F for 猛虎队 (R5);  李四 reports F too: duplicate refused
  Fri  R4 and R5 have expired;  王五 reports B (R6: another canvasser after an expiry, not a re-report);
       E (the natural visitor) buys
  Mon  (next week) 李四 reports G: outside the week

                     报备 撞单 确认 驳回 到访 失效 重报 成交
  飞虎队               3    1    1    0    1    2    1    1     李四 1/1/1/0/1/0/0/1, 孙七 2/0/0/0/0/2/1/0
  猛虎队               3    1    0    1    1    1    0    0     王五 2/1/0/1/1/0/0/0, 孙七 1/0/0/0/0/1/0/0
  案场（自然来访）     0    0    0    0    1    0    0    1
  合计                 6    2    1    1    3    3    1    2     到访率 50%, 成交率 67%
"""

from __future__ import annotations

import pytest

from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.messages import SendPhoto
from reportbot.handlers.stats import compute_stats
from reportbot.rules.policy import Policy
from reportbot.rules.stats import Measure, Stats, parse_period
from tests.conftest import local
from tests.manager_week import ADMIN, SUN, WEEK_POLICY, scripted_week
from tests.office import CHEN, GROUP, ZHAO, Chat, only, open_office, sent

ORDER = (Measure.REPORTS, Measure.DUPLICATES, Measure.CONFIRMED, Measure.REJECTED, Measure.VISITS, Measure.EXPIRED,
         Measure.REREPORTS, Measure.DEALS)


@pytest.fixture
def policy() -> Policy:
    return WEEK_POLICY


def row(stats: Stats, team: str | None, name: str | None = None) -> tuple[int, ...]:
    block = next(b for b in stats.teams if b.total.team == team)
    line = block.total if name is None else next(p for p in block.people if p.name == name)
    return tuple(line[m] for m in ORDER)


async def week_stats(svc: Services, project: str = "森林半岛") -> Stats:
    async with svc.db.uow(write=False) as uow:
        found = await uow.projects.by_name(project)
        assert found is not None
        period = parse_period("week", local("2026-11-29 20:00"))
        assert not isinstance(period, str)
        return await compute_stats(uow, found, period)


async def test_the_week_counts_per_team_and_canvasser_match_the_hand_count(svc: Services) -> None:
    await scripted_week(svc)
    stats = await week_stats(svc)
    assert [b.total.team for b in stats.teams] == ["飞虎队", "猛虎队", None]
    assert row(stats, "飞虎队") == (3, 1, 1, 0, 1, 2, 1, 1)
    assert row(stats, "飞虎队", "李四") == (1, 1, 1, 0, 1, 0, 0, 1)
    assert row(stats, "飞虎队", "孙七") == (2, 0, 0, 0, 0, 2, 1, 0)
    assert row(stats, "猛虎队") == (3, 1, 0, 1, 1, 1, 0, 0)
    assert row(stats, "猛虎队", "王五") == (2, 1, 0, 1, 1, 0, 0, 0)
    assert row(stats, "猛虎队", "孙七") == (1, 0, 0, 0, 0, 1, 0, 0)
    assert row(stats, None) == (0, 0, 0, 0, 1, 0, 0, 1)
    assert tuple(stats.total[m] for m in ORDER) == (6, 2, 1, 1, 3, 3, 1, 2)
    assert stats.total.visit_rate == 0.5 and stats.total.deal_rate == pytest.approx(2 / 3)


async def test_stats_answers_with_a_short_table_and_the_chart(svc: Services) -> None:
    chat = await scripted_week(svc)
    actions = await chat.say(CHEN, "/stats week")
    table = only(actions, CHEN).text
    assert table.splitlines()[0] == "📊 森林半岛 本周统计（11-23—11-29）"
    assert "合计：报备6 撞单2 确认1 驳回1 到访3 失效3 重报1 成交2" in table
    assert "【飞虎队】报备3 撞单1 确认1 驳回0 到访1 失效2 重报1 成交1｜到访率33% 成交率100%" in table
    assert "  · 孙七：报备1 撞单0 确认0 驳回0 到访0 失效1 重报0 成交0｜到访率0% 成交率—" in table
    assert "【案场（自然来访）】报备0 撞单0 确认0 驳回0 到访1 失效0 重报0 成交1" in table
    [photo] = [a for a in actions if isinstance(a, SendPhoto)]
    png = await photo.png()
    assert photo.chat_id == CHEN and png is not None and png.startswith(b"\x89PNG")
    assert photo.caption == "森林半岛 本周统计（11-23—11-29）"


async def test_a_day_a_range_and_a_month_count_what_happened_in_them(svc: Services) -> None:
    chat = await scripted_week(svc)
    monday = only(await chat.at("2026-11-23 23:00").say(CHEN, "/stats today"), CHEN).text
    assert "合计：报备3 撞单1 确认1 驳回1 到访0 失效0 重报0 成交0" in monday
    tuesday = only(await chat.say(CHEN, "/stats 2026-11-24..2026-11-24"), CHEN).text
    assert "森林半岛 统计（2026-11-24）" in tuesday and "合计：报备0 撞单0 确认0 驳回0 到访3 失效0 重报0 成交1" in tuesday
    month = only(await chat.at("2026-11-30 12:00").say(CHEN, "/stats month"), CHEN).text
    assert "本月统计（11-01—11-30）" in month and "合计：报备7 " in month  # the next Monday's report too


async def test_a_manager_may_name_another_project_and_an_assistant_only_their_own(svc: Services) -> None:
    chat = await scripted_week(svc)
    other = only(await chat.say(CHEN, "/stats week 江景湾"), CHEN).text
    assert "江景湾 本周统计" in other and "合计：报备1 " in other and "【海燕队】" in other and "飞虎队" not in other
    refused = only(await chat.say(ZHAO, "/stats week 江景湾"), ZHAO).text
    assert "销售助理只能查看本项目（森林半岛）的数据" in refused and "用法：/stats" in refused
    own = only(await chat.say(ZHAO, "/stats week 森林半岛"), ZHAO).text
    assert "合计：报备6 " in own
    in_group = await chat.say(ZHAO, "/stats week", group=GROUP)
    assert "合计：报备6 " in only(in_group, GROUP).text and any(isinstance(a, SendPhoto) for a in in_group)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("fortnight", "没有名为“fortnight”的项目（现有项目：森林半岛）；时间范围请写 today、week、month"),
        ("2026-11-30..2026-11-01", "开始日期晚于结束日期"),
        ("2025-01-01..2026-12-31", "超过一年"),
        ("2026-02-30", "看不懂"),
        ("week month", "只能写一个时间范围"),
        ("week 不存在", "没有名为“不存在”的项目（现有项目：森林半岛）"),
    ],
)
async def test_a_bad_range_or_project_is_named_with_the_usage_and_nothing_is_sent(svc: Services, args: str,
                                                                                   problem: str) -> None:
    await open_office(svc)
    actions = await Chat(svc).say(CHEN, f"/stats {args}")
    assert problem in only(actions, CHEN).text and "例：/stats week" in only(actions, CHEN).text
    assert not [a for a in actions if isinstance(a, SendPhoto)]


async def test_a_move_keeps_history_for_who_and_tells_the_person(svc: Services) -> None:
    chat = await scripted_week(svc)
    who = only(await chat.say(CHEN, "/who 139***00002"), CHEN).text
    assert "11-23 09:00 孙七（飞虎队）报备 BB-20261123-0002" in who  # filed before the move: as it was then
    assert "11-27 00:00 孙七（飞虎队）报备 BB-20261125-0001 失效" in who  # expired after it, still 飞虎队's report
    assert "11-27 10:00 王五（猛虎队）报备 BB-20261127-0001" in who
    later = only(await chat.say(CHEN, "/who 136***00006"), CHEN).text
    assert "11-25 14:00 孙七（猛虎队）报备" in later and "11-25 14:05 李四（飞虎队）报备被拒（撞单）" in later
    moved = await chat.say(ADMIN, "/move 孙七 飞虎队")
    assert "✅ 孙七 已从猛虎队调到飞虎队" in only(moved, ADMIN).text
    assert "您已从猛虎队调到飞虎队" in only(moved, SUN).text
    assert "已在飞虎队，无需调整" in only(await chat.say(ADMIN, "/move 孙七 飞虎队"), ADMIN).text
    async with svc.db.uow(write=False) as uow:
        [sun] = await uow.staff.by_name("孙七")
        changes = (await uow.team_changes.of_staff([sun.id]))[sun.id]
    assert [(c.from_team, c.to_team) for c in changes] == [("飞虎队", "猛虎队"), ("猛虎队", "飞虎队")]
    assert sun.team == "飞虎队"
    assert row(await week_stats(svc), "猛虎队", "孙七") == (1, 0, 0, 0, 0, 1, 0, 0)  # stats do not move with him


async def test_move_names_what_is_wrong(svc: Services) -> None:
    await open_office(svc)
    when = local("2026-11-20 09:00")
    await directory.add_staff(svc.db, NewStaff("管理员", "总部", "admin", ADMIN, project="森林半岛"), when)
    await directory.add_staff(svc.db, NewStaff("李四", "猛虎队", "canvasser", "107", project="森林半岛"), when)
    chat = Chat(svc)
    assert "有不止一位“李四”" in only(await chat.say(ADMIN, "/move 李四 海燕队"), ADMIN).text
    assert "✅ 李四 已从猛虎队调到海燕队" in only(await chat.say(ADMIN, "/move 李四 猛虎队 海燕队"), ADMIN).text
    assert "没有找到“刘九”" in only(await chat.say(ADMIN, "/move 刘九 海燕队"), ADMIN).text
    assert "新队名最多20个字" in only(await chat.say(ADMIN, "/move 王五 " + "队" * 21), ADMIN).text
    assert "用法（管理员）：/move" in only(await chat.say(ADMIN, "/move 王五"), ADMIN).text
    listing = only(await chat.say(ADMIN, "/projects"), ADMIN).text
    assert "#1 森林半岛（本群/默认）　群：-1001234" in listing
    assert sent(await chat.say(CHEN, "/move 王五 海燕队"), CHEN)[0].text.startswith("/move 只有管理员")


async def test_when_the_chart_cannot_be_drawn_the_table_still_goes_out(svc: Services,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from reportbot.documents.fonts import FontMissing
    from reportbot.handlers import stats as stats_module

    def no_font(*args: object) -> bytes:
        raise FontMissing("NotoSansCJKsc-Regular.otf not found")

    monkeypatch.setattr(stats_module, "render_chart", no_font)
    chat = await scripted_week(svc)
    actions = await chat.say(CHEN, "/stats week")
    assert "合计：报备6 " in only(actions, CHEN).text
    [photo] = [a for a in actions if isinstance(a, SendPhoto)]
    assert await photo.png() is None  # logged; the transports send nothing for it


async def test_the_chart_is_drawn_when_sent_after_the_handling_committed_and_off_the_event_loop(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chart takes a while to draw (half a second the first time). Drawn while /stats was handled, the
    handling's transaction (on SQLite the write lock) and the polling loop would wait that long. It is
    drawn when the transport sends it, on a thread, once (a resend reuses it): the loop goes on meanwhile."""
    import asyncio
    import threading
    import time

    from reportbot.handlers import delivery
    from reportbot.handlers import stats as stats_module
    from reportbot.handlers.messages import Incoming
    from reportbot.handlers.router import handle_message

    await open_office(svc)
    drawn_on: list[threading.Thread] = []

    def slow_chart(stats: Stats, title: str) -> bytes:
        drawn_on.append(threading.current_thread())
        time.sleep(0.3)
        return b"\x89PNG"

    monkeypatch.setattr(stats_module, "render_chart", slow_chart)
    msg = Incoming("telegram", CHEN, CHEN, False, "/stats", local("2026-11-23 18:00"), "1", f"msg:{CHEN}:1")
    handled = await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))
    [photo] = [q.action for q in handled.answers if isinstance(q.action, SendPhoto)]
    assert drawn_on == []  # committed, nothing drawn yet
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    running = asyncio.create_task(ticker())
    assert await photo.png() == b"\x89PNG" and await photo.png() == b"\x89PNG"
    running.cancel()
    assert len(drawn_on) == 1 and drawn_on[0] is not threading.main_thread()
    assert ticks > 0  # the loop ran while the chart was drawn
