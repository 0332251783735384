"""The weekly digest (周统计): Sunday 21:00 the group gets the week's table and chart, once; policy-controlled."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action, SendPhoto
from reportbot.handlers.sweep import sweep
from reportbot.rules.policy import Policy
from tests.conftest import local
from tests.manager_week import WEEK_POLICY, scripted_week
from tests.office import GROUP, sent


@pytest.fixture
def policy() -> Policy:
    return WEEK_POLICY


def weekly(actions: list[Action]) -> tuple[list[str], list[SendPhoto]]:
    texts = [a.text for a in sent(actions, GROUP) if a.text.startswith("📊")]
    photos = [a for a in actions if isinstance(a, SendPhoto) and a.chat_id == GROUP]
    return texts, photos


async def test_sunday_at_nine_the_group_gets_the_weeks_table_and_chart_once(svc: Services) -> None:
    await scripted_week(svc)
    assert weekly(await sweep(svc, local("2026-11-29 20:59"), "console")) == ([], [])
    texts, photos = weekly(await sweep(svc, local("2026-11-29 21:00"), "console"))
    assert len(texts) == 1 and texts[0].startswith("📊 森林半岛 本周统计（11-23—11-29）")
    # The hand count of tests/handlers/test_manager_stats.py, plus 王五's Friday report, which expired at
    # Saturday midnight and is expired by this very sweep before the digest is counted.
    assert "合计：报备6 撞单2 确认1 驳回1 到访3 失效4 重报1 成交2" in texts[0]
    assert "【猛虎队】报备3 撞单1 确认0 驳回1 到访1 失效2 重报0 成交0" in texts[0]
    assert len(photos) == 1 and "本周统计" in photos[0].caption
    png = await photos[0].png()
    assert png is not None and png.startswith(b"\x89PNG")
    assert weekly(await sweep(svc, local("2026-11-29 21:30"), "console")) == ([], [])


async def test_on_other_days_there_is_no_weekly_digest(svc: Services) -> None:
    await scripted_week(svc)
    assert weekly(await sweep(svc, local("2026-11-28 21:00"), "console")) == ([], [])


async def test_the_policy_can_turn_it_off_or_move_it(svc: Services) -> None:
    await scripted_week(svc)
    off = Services(svc.db, svc.render, replace(WEEK_POLICY, weekly_digest=False))
    assert weekly(await sweep(off, local("2026-11-29 21:00"), "console")) == ([], [])
    friday = Services(svc.db, svc.render, replace(WEEK_POLICY, weekly_digest_weekday=5, weekly_digest_time=time(18)))
    texts, photos = weekly(await sweep(friday, local("2026-12-04 18:00"), "console"))
    assert len(photos) == 1 and texts[0].startswith("📊 森林半岛 近7天统计（11-28—12-04）")
