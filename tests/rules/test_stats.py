"""rules/stats.py, rules/teams.py and the weekly digest's time: periods, counting, rates, team history. Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from reportbot.rules.model import Status
from reportbot.rules.policy import Policy
from reportbot.rules.reminders import weekly_digest_due
from reportbot.rules.stats import (
    Fact,
    Measure,
    Period,
    PeriodProblem,
    aggregate,
    is_period,
    is_rereport,
    parse_period,
    rate,
    week_ending,
)
from reportbot.rules.teams import TeamChange, team_at

TZ = ZoneInfo("Asia/Shanghai")
THURSDAY = datetime(2026, 11, 26, 15, 0, tzinfo=TZ)


def days(text: str, now: datetime = THURSDAY) -> tuple[date, date, str]:
    period = parse_period(text, now)
    assert isinstance(period, Period), period
    return period.first, period.last, period.name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (date(2026, 11, 26), date(2026, 11, 26), "今天")),
        ("today", (date(2026, 11, 26), date(2026, 11, 26), "今天")),
        ("今天", (date(2026, 11, 26), date(2026, 11, 26), "今天")),
        ("昨天", (date(2026, 11, 25), date(2026, 11, 25), "昨天")),
        ("week", (date(2026, 11, 23), date(2026, 11, 29), "本周")),
        ("Week", (date(2026, 11, 23), date(2026, 11, 29), "本周")),
        ("上周", (date(2026, 11, 16), date(2026, 11, 22), "上周")),
        ("month", (date(2026, 11, 1), date(2026, 11, 30), "本月")),
        ("lastmonth", (date(2026, 10, 1), date(2026, 10, 31), "上月")),
        ("2026-11-01..2026-11-15", (date(2026, 11, 1), date(2026, 11, 15), "")),
        ("2026-11-01至2026-11-15", (date(2026, 11, 1), date(2026, 11, 15), "")),
        ("２０２６-１１-０１~2026-11-02", (date(2026, 11, 1), date(2026, 11, 2), "")),
        ("2026-11-05", (date(2026, 11, 5), date(2026, 11, 5), "")),
    ],
)
def test_a_period_is_read_in_local_days(text: str, expected: tuple[date, date, str]) -> None:
    assert days(text) == expected


def test_a_periods_bounds_are_local_midnights_end_excluded() -> None:
    period = parse_period("2026-11-01..2026-11-30", THURSDAY)
    assert isinstance(period, Period)
    assert period.start == datetime(2026, 11, 1, tzinfo=TZ) and period.end == datetime(2026, 12, 1, tzinfo=TZ)


def test_weeks_start_on_monday_and_months_know_their_length() -> None:
    sunday = datetime(2026, 11, 29, 21, 0, tzinfo=TZ)
    assert days("week", sunday)[:2] == (date(2026, 11, 23), date(2026, 11, 29))
    assert days("week", datetime(2026, 11, 23, 0, 0, tzinfo=TZ))[:2] == (date(2026, 11, 23), date(2026, 11, 29))
    assert days("month", datetime(2028, 2, 10, tzinfo=TZ))[:2] == (date(2028, 2, 1), date(2028, 2, 29))
    assert days("month", datetime(2026, 12, 31, tzinfo=TZ))[:2] == (date(2026, 12, 1), date(2026, 12, 31))
    assert days("上月", datetime(2027, 1, 15, tzinfo=TZ))[:2] == (date(2026, 12, 1), date(2026, 12, 31))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fortnight", PeriodProblem.UNREADABLE),
        ("2026-02-30", PeriodProblem.UNREADABLE),
        ("2026-11", PeriodProblem.UNREADABLE),
        ("2026-11-30..2026-11-01", PeriodProblem.REVERSED),
        ("2025-01-01..2026-01-02", PeriodProblem.TOO_LONG),
    ],
)
def test_a_bad_period_says_what_is_wrong(text: str, problem: PeriodProblem) -> None:
    assert parse_period(text, THURSDAY) is problem


def test_a_word_looks_like_a_period_when_it_is_a_name_or_starts_with_a_year() -> None:
    assert is_period("week") and is_period("本月") and is_period("2026-11-01..2026-11-30") and is_period("2026-13-40")
    assert not is_period("森林半岛") and not is_period("fortnight")


def test_the_weekly_digests_week_is_the_seven_days_that_end_that_day() -> None:
    period = week_ending(date(2026, 11, 29), THURSDAY)
    assert (period.first, period.last, period.name) == (date(2026, 11, 23), date(2026, 11, 29), "本周")
    assert week_ending(date(2026, 12, 4), THURSDAY).name == "近7天"


def test_a_re_report_is_the_same_canvassers_report_after_their_own_expiry() -> None:
    assert is_rereport(Status.EXPIRED, 7, 7)
    assert not is_rereport(Status.EXPIRED, 8, 7)  # another canvasser after an expiry: a new report
    assert not is_rereport(Status.REJECTED, 7, 7) and not is_rereport(None, None, 7)


def test_rates_are_ratios_of_the_periods_counts_and_none_without_a_base() -> None:
    assert rate(1, 4) == 0.25 and rate(0, 3) == 0 and rate(2, 0) is None


def test_facts_are_counted_per_team_and_canvasser_busiest_first_the_office_last() -> None:
    period = parse_period("week", THURSDAY)
    assert isinstance(period, Period)
    facts = [
        Fact(Measure.VISITS, None, None, None),
        Fact(Measure.REPORTS, "猛虎队", 3, "王五"),
        Fact(Measure.REPORTS, "飞虎队", 1, "李四"),
        Fact(Measure.REPORTS, "飞虎队", 2, "孙七"),
        Fact(Measure.REPORTS, "飞虎队", 2, "孙七"),
        Fact(Measure.VISITS, "飞虎队", 2, "孙七"),
        Fact(Measure.DEALS, "飞虎队", 2, "孙七"),
        Fact(Measure.DUPLICATES, "猛虎队", 3, "王五"),
    ]
    stats = aggregate(facts, period)
    assert [b.total.team for b in stats.teams] == ["飞虎队", "猛虎队", None]
    tigers = stats.teams[0]
    assert [p.name for p in tigers.people] == ["孙七", "李四"]
    assert tigers.total[Measure.REPORTS] == 3 and tigers.total.visit_rate == pytest.approx(1 / 3)
    assert tigers.people[0].deal_rate == 1.0 and tigers.people[1].deal_rate is None
    assert stats.teams[2].total.team_label == "案场（自然来访）" and stats.teams[2].people == ()
    assert stats.total[Measure.REPORTS] == 4 and stats.total[Measure.VISITS] == 2 and stats.total[Measure.REJECTED] == 0
    assert not stats.empty and aggregate([], period).empty


def test_a_person_was_in_the_team_they_left_at_their_next_move() -> None:
    moved = datetime(2026, 11, 25, 12, 0, tzinfo=TZ)
    changes = [TeamChange(5, "猛虎队", "海燕队", moved + timedelta(days=2)), TeamChange(5, "飞虎队", "猛虎队", moved)]
    assert team_at("海燕队", changes, moved - timedelta(minutes=1)) == "飞虎队"
    assert team_at("海燕队", changes, moved) == "猛虎队"
    assert team_at("海燕队", changes, moved + timedelta(days=3)) == "海燕队"
    assert team_at("飞虎队", [], moved) == "飞虎队"


def test_the_weekly_digest_is_due_on_its_day_from_its_time_unless_turned_off() -> None:
    policy = Policy()
    sunday = datetime(2026, 11, 29, 21, 0, tzinfo=TZ)
    assert weekly_digest_due(sunday, policy) == "20261129"
    assert weekly_digest_due(sunday.astimezone(ZoneInfo("UTC")), policy) == "20261129"
    assert weekly_digest_due(sunday - timedelta(minutes=1), policy) is None
    assert weekly_digest_due(sunday - timedelta(days=1), policy) is None
    assert weekly_digest_due(sunday, replace(policy, weekly_digest=False)) is None
    friday = replace(policy, weekly_digest_weekday=5, weekly_digest_time=time(18, 0))
    assert weekly_digest_due(datetime(2026, 11, 27, 18, 0, tzinfo=TZ), friday) == "20261127"
