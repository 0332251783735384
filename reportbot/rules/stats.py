"""Manager statistics (来人来电统计表): the period asked for, and counts per team and canvasser. Pure.

A statistic counts what happened inside the period, by the day it happened (local time): reports
filed, duplicates refused, confirmations, rejections, first visits, expiries, re-reports and deals.
The rates are ratios of those counts (到访率 = 到访 ÷ 报备, 成交率 = 成交 ÷ 到访), as the seeds'
daily, weekly and monthly tables compute them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType

from reportbot.rules.model import Status

MAX_PERIOD_DAYS = 366


class Measure(StrEnum):
    REPORTS = "reports"
    DUPLICATES = "duplicates"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    VISITS = "visits"
    EXPIRED = "expired"
    REREPORTS = "rereports"
    DEALS = "deals"


MEASURE_LABELS = {
    Measure.REPORTS: "报备",
    Measure.DUPLICATES: "撞单",
    Measure.CONFIRMED: "确认",
    Measure.REJECTED: "驳回",
    Measure.VISITS: "到访",
    Measure.EXPIRED: "失效",
    Measure.REREPORTS: "重报",
    Measure.DEALS: "成交",
}
OFFICE_LABEL = "案场（自然来访）"


@dataclass(frozen=True)
class Period:
    """Local days ``first`` … ``last``, both included; ``start``/``end`` are the aware bounds [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime
    name: str  # 今天, 本周, 本月, … or "" for an explicit range


class PeriodProblem(StrEnum):
    UNREADABLE = "unreadable"
    REVERSED = "reversed"
    TOO_LONG = "too_long"


def _bounds(first: date, last: date, name: str, like: datetime) -> Period:
    tz = like.tzinfo
    start = datetime.combine(first, time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz)
    return Period(first, last, start, end, name)


def week_of(day: date) -> tuple[date, date]:
    """Monday … Sunday of the week that holds ``day``."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def month_of(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


_NAMED = {
    "today": "今天", "今天": "今天", "今日": "今天",
    "yesterday": "昨天", "昨天": "昨天",
    "week": "本周", "本周": "本周", "这周": "本周",
    "lastweek": "上周", "上周": "上周",
    "month": "本月", "本月": "本月",
    "lastmonth": "上月", "上月": "上月",
}
_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_RANGE = re.compile(rf"^{_DATE}(?:\s*(?:\.\.|~|至|到|—|–)\s*{_DATE})?$")


def is_period(text: str) -> bool:
    """Whether a word is meant as a period (a name or something shaped like a date)."""
    word = unicodedata.normalize("NFKC", text).strip().lower()
    return word in _NAMED or bool(re.match(r"^\d{4}-", word))


def parse_period(text: str, now: datetime) -> Period | PeriodProblem:
    """'today' | 'week' | 'month' (and 昨天/上周/上月) | 'YYYY-MM-DD' | 'YYYY-MM-DD..YYYY-MM-DD';
    empty means today. ``now`` is aware, in the office's zone."""
    word = unicodedata.normalize("NFKC", text).strip().lower()
    today = now.date()
    name = _NAMED.get(word or "today")
    if name == "今天":
        return _bounds(today, today, name, now)
    if name == "昨天":
        return _bounds(today - timedelta(days=1), today - timedelta(days=1), name, now)
    if name in ("本周", "上周"):
        first, last = week_of(today - timedelta(days=7 if name == "上周" else 0))
        return _bounds(first, last, name, now)
    if name in ("本月", "上月"):
        first, last = month_of(today.replace(day=1) - timedelta(days=1) if name == "上月" else today)
        return _bounds(first, last, name, now)
    match = _RANGE.match(word)
    if match is None:
        return PeriodProblem.UNREADABLE
    try:
        first = date(int(match[1]), int(match[2]), int(match[3]))
        last = date(int(match[4]), int(match[5]), int(match[6])) if match[4] else first
    except ValueError:
        return PeriodProblem.UNREADABLE
    if last < first:
        return PeriodProblem.REVERSED
    if (last - first).days + 1 > MAX_PERIOD_DAYS:
        return PeriodProblem.TOO_LONG
    return _bounds(first, last, "", now)


def week_ending(day: date, like: datetime) -> Period:
    """The seven days that end with ``day`` (the weekly digest's week)."""
    return _bounds(day - timedelta(days=6), day, "本周" if day.weekday() == 6 else "近7天", like)


@dataclass(frozen=True)
class Fact:
    """One countable thing that happened, and whom it counts for (team None: the office)."""

    measure: Measure
    team: str | None
    staff_id: int | None
    name: str | None


def is_rereport(previous_status: Status | None, previous_canvasser_id: int | None, canvasser_id: int) -> bool:
    """A report is a re-report (重新报备) when the customer's report before it expired and was the same
    canvasser's (SPEC §6); another canvasser's report after an expiry is a new report."""
    return previous_status is Status.EXPIRED and previous_canvasser_id == canvasser_id


def rate(part: int, whole: int) -> float | None:
    """part ÷ whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


@dataclass(frozen=True)
class Line:
    """The counts of one canvasser (``name`` set) or of a whole team (``name`` None)."""

    team: str | None
    name: str | None
    counts: Mapping[Measure, int] = field(default_factory=lambda: MappingProxyType({}))

    def __getitem__(self, measure: Measure) -> int:
        return self.counts.get(measure, 0)

    @property
    def visit_rate(self) -> float | None:
        return rate(self[Measure.VISITS], self[Measure.REPORTS])

    @property
    def deal_rate(self) -> float | None:
        return rate(self[Measure.DEALS], self[Measure.VISITS])

    @property
    def team_label(self) -> str:
        return self.team if self.team is not None else OFFICE_LABEL


@dataclass(frozen=True)
class TeamBlock:
    total: Line
    people: tuple[Line, ...]


@dataclass(frozen=True)
class Stats:
    period: Period
    teams: tuple[TeamBlock, ...]
    total: Line

    @property
    def empty(self) -> bool:
        return not any(self.total.counts.values())


def _line(team: str | None, name: str | None, facts: Iterable[Fact]) -> Line:
    counts: dict[Measure, int] = {}
    for fact in facts:
        counts[fact.measure] = counts.get(fact.measure, 0) + 1
    return Line(team, name, MappingProxyType(counts))


def _busiest_first(line: Line) -> tuple[int, int, int, str]:
    return (-line[Measure.REPORTS], -line[Measure.VISITS], -line[Measure.DEALS], line.name or line.team or "")


def aggregate(facts: Iterable[Fact], period: Period) -> Stats:
    """Per team (the office last) and per canvasser within it, busiest first; the project's total."""
    facts = list(facts)
    by_team: dict[str | None, list[Fact]] = {}
    for fact in facts:
        by_team.setdefault(fact.team, []).append(fact)
    blocks = []
    for team, team_facts in by_team.items():
        by_person: dict[tuple[int | None, str | None], list[Fact]] = {}
        for fact in team_facts:
            if fact.staff_id is not None:
                by_person.setdefault((fact.staff_id, fact.name), []).append(fact)
        people = sorted((_line(team, name, fs) for (_, name), fs in by_person.items()), key=_busiest_first)
        blocks.append(TeamBlock(_line(team, None, team_facts), tuple(people)))
    blocks.sort(key=lambda b: (b.total.team is None, *_busiest_first(b.total)))
    return Stats(period, tuple(blocks), _line(None, None, facts))
