"""The appointment time (预约到访时间): read what a canvasser typed, and check its window (SPEC §3).

Reading happens in named steps, each a small function:

1. ``_normalise``   full-width → ASCII (NFKC), lower case, Chinese numerals → digits
                    (二十五号 → 25号, 三点一刻 → 3点1刻), weekday names left as they are.
2. ``_take_*``      cut the parts out of the text one by one: a calendar date, a relative day
                    (今天/明天/后天/大后天, 今晚/明早…), a weekday (周六/下周二/这周五…), a clock time
                    (15:00, 3点半, 3点15分, 15时), a period of the day (上午/下午/晚上…).
3. leftovers        whatever is left must be spaces, punctuation or the filler words in
                    ``_FILLER`` (约, 大约, 大概, 左右, 前后, 到访, 来访, 到, 来); anything else
                    makes the whole text unrecognised: we never guess around words we do not know.
4. ``_resolve_day`` the day, against ``now`` (interpretation rules 1, 2, 5 below).
5. ``_resolve_clock`` the hour and minute (rules 3, 4, 7).

Interpretation rules:

1. A date without a year rolls forward: a month/day already past this year means next year.
   A day without a month (``25号``) is this month, or next month if that day has passed
   (``25号`` on the 25th is today).
2. A bare weekday (``周六``) is its next occurrence counting today. ``这周X``/``本周X`` is that day
   of the current Monday-based week, even when it is already past; ``下周X`` of the next week,
   ``下下周X`` of the week after. A weekday written next to a date (``11月25日周三``, or the
   ``11月25日(周三)`` the bot echoes) must agree with it.
3. Periods: 凌晨 0–6 as written (12 → 0); 早/早上/上午 as written (0–12); 中午 11–14 (1, 2 → 13, 14);
   下午 1–11 → +12, 12 stays 12; 傍晚/晚上/晚 5–11 → +12, 12 → midnight (next day 00:00);
   晚上1点 to 晚上4点 is refused as ambiguous: said so, it means past midnight (凌晨1点) as often as
   it is a slip for 下午1点, and a visit at either is worth asking about.
   am/pm are accepted like 上午/下午. An hour that does not fit its period is a bad time.
4. Without a period, a time written with a colon (``9:30``) or an hour of 0 or 13–24 is a
   24-hour time, taken as written. A bare hour 1–12 (``3点``) means 13–18 for 1–6 and 7–12
   as written — except on the day itself, where it is refused as ambiguous: same-day visits
   must say 上午/下午 or use a 24-hour time.
5. A time without a date means today (rule 4's same-day rule applies), even when it has
   already passed: ``check_window`` then says so.
6. A date (or a period like 明天下午) without a clock time is refused: a precise time is needed.
7. 半 = :30, 一刻 = :15, 三刻 = :45, ``3点15``/``3点15分`` = :15, 整/钟 = :00. 24点 = next day 00:00.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Field, Refusal

WEEKDAY_NAMES = "一二三四五六日"  # Monday first, as datetime.weekday() counts


@dataclass(frozen=True)
class Appointment:
    """A resolved appointment time."""

    at: datetime  # aware, same tzinfo as the `now` it was read against, seconds=0


# -- Describing a time back to people --------------------------------------------------------------


def describe_day(at: datetime) -> str:
    """'11月25日(周三)'."""
    return f"{at.month}月{at.day}日(周{WEEKDAY_NAMES[at.weekday()]})"


def describe(at: datetime) -> str:
    """'11月25日(周三) 15:00'."""
    return f"{describe_day(at)} {at.hour:02d}:{at.minute:02d}"


# -- The window ------------------------------------------------------------------------------------


def validity_end(reported_at: datetime, policy: Policy) -> datetime:
    """Exclusive end of a report's validity: local midnight starting day (report day + window + 1)."""
    tz = ZoneInfo(policy.timezone)
    report_day = reported_at.astimezone(tz).date()
    return datetime.combine(report_day + timedelta(days=policy.report_window_days + 1), time(0), tzinfo=tz)


def check_window(at: datetime, reported_at: datetime, policy: Policy) -> Refusal | None:
    """Refuse an appointment in the past, too soon after the report, or after the window."""
    reported_at = reported_at.astimezone(at.tzinfo)
    if at <= reported_at:
        return _refuse("appointment_past", at=describe(at))
    if at < reported_at + timedelta(minutes=policy.min_lead_minutes):
        return _refuse("appointment_too_soon", minutes=policy.min_lead_minutes)
    end = validity_end(reported_at, policy)
    if at >= end:
        last_day = end - timedelta(days=1)  # wall-clock arithmetic: local midnight of the last day
        return _refuse(
            "appointment_beyond_window", days=policy.report_window_days, last_day=describe_day(last_day)
        )
    return None


# -- Parsing ---------------------------------------------------------------------------------------


def parse_appointment(text: str, now: datetime) -> Appointment | Refusal:
    """Read an appointment time typed by a person, against ``now`` (aware, office time zone)."""
    original = " ".join(text.split())
    if not original:
        return _refuse("appointment_missing")
    unrecognised = _refuse("appointment_unrecognised", text=_shorten(original))

    # Step 1: normalise.
    work = _normalise(original)

    # Step 2: cut the parts out, one kind at a time.
    work, calendar = _take_calendar_date(work)
    work, relative = _take_relative_day(work)
    work, weekday = _take_weekday(work)
    work, clock = _take_clock(work)
    work, period = _take_period(work)

    # Step 3: nothing unknown may be left over, and something must have been found.
    if _FILLER.sub("", work):
        return unrecognised
    if calendar is None and relative is None and weekday is None and clock is None and period is None:
        return unrecognised
    if calendar is not None and relative is not None:
        return unrecognised  # two days, e.g. '明天 11月25日'
    if weekday is not None and weekday.week is not None and (calendar is not None or relative is not None):
        return unrecognised  # two days, e.g. '明天 下周二'

    # Step 4: the day.
    day = _resolve_day(calendar, relative, weekday, now.date())
    if isinstance(day, Refusal):
        return day

    # Step 5: the time of day.
    if clock is None:
        return _refuse("appointment_no_time", day=describe_day(datetime.combine(day, time(0))))
    resolved = _resolve_clock(clock, period, is_today=(day == now.date()))
    if isinstance(resolved, Refusal):
        return resolved
    hour, minute = resolved

    # 24:00 (or 晚上12点) is the midnight that ends the day.
    try:
        if hour == 24:
            day, hour = day + timedelta(days=1), 0
        return Appointment(datetime.combine(day, time(hour, minute), tzinfo=now.tzinfo))
    except OverflowError:
        return _refuse("appointment_bad_date", date=_date_text(day.year, day.month, day.day))


# --- step 1: normalise ------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# A run of Chinese numerals, unless it is the day of a weekday name (周一, 星期三, 礼拜五).
_CN_RUN = re.compile(r"(?<![周週期拜])[零〇一二两三四五六七八九十]+")


def _normalise(text: str) -> str:
    """Full-width → ASCII, lower case, Chinese numerals → digits; a range of hours is its start (3-4点,
    15:00-16:00, 3到4点: the customer comes from 3)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CN_RUN.sub(lambda m: _cn_number(m.group()) or m.group(), text)
    text = _HOUR_RANGE.sub(r"\1点", text)
    return _CLOCK_RANGE.sub(r"\1", text)


_HOUR_RANGE = re.compile(r"(?<![0-9:/.-])([0-9]{1,2})\s*(?:-|~|到|至)\s*[0-9]{1,2}\s*点")
_CLOCK_RANGE = re.compile(r"([0-9]{1,2}:[0-9]{2})\s*(?:-|~|到|至)\s*[0-9]{1,2}:[0-9]{2}")


def _cn_number(run: str) -> str | None:
    """'二十五' → '25', '十' → '10', '二〇二六' → '2026', '零五' → '05'; None when not a number."""
    if "十" not in run:
        return "".join(str(_CN_DIGITS[c]) for c in run)
    tens_text, _, units_text = run.partition("十")
    if len(tens_text) > 1 or len(units_text) > 1 or "十" in units_text:
        return None
    tens = _CN_DIGITS[tens_text] if tens_text else 1
    units = _CN_DIGITS[units_text] if units_text else 0
    return str(tens * 10 + units) if tens else None


# --- step 2: the parts ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """A written date; year and month may be missing."""

    year: int | None
    month: int | None
    day: int


@dataclass(frozen=True)
class _Weekday:
    """周X, with the week it is in: None = next occurrence, 0 = this week, 1 = next week, 2 = the one after."""

    weekday: int  # 0 = Monday
    week: int | None
    text: str


@dataclass(frozen=True)
class _Clock:
    """A written clock time, before the period is applied."""

    hour: int
    minute: int
    colon: bool  # written as HH:MM
    text: str


_D = r"(?<![0-9])([0-9]{1,2})"  # one or two digits, not the tail of a longer number
_END = r"(?![0-9])"

# The calendar forms, most specific first; the first that matches is the date.
_CALENDAR_FORMS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], _Calendar]]] = [
    # 2026-11-25, 2026/11/25, 2026.11.25, 2026年11月25日
    (
        re.compile(r"(?<![0-9])([0-9]{4})\s*(?:年\s*" + _D + r"\s*月\s*" + _D + r"\s*[日号]?|"
                   r"([-/.])([0-9]{1,2})\4([0-9]{1,2})" + _END + ")"),
        lambda m: _Calendar(int(m[1]), int(m[2] or m[5]), int(m[3] or m[6])),
    ),
    # 11月25日, 11月25号, 11月25
    (re.compile(_D + r"\s*月\s*" + _D + _END + r"\s*[日号]?"), lambda m: _Calendar(None, int(m[1]), int(m[2]))),
    # 11-25, 11/25, 11.25
    (re.compile(_D + r"[-/.]([0-9]{1,2})" + _END), lambda m: _Calendar(None, int(m[1]), int(m[2]))),
    # 25号, 25日
    (re.compile(_D + r"\s*[日号]"), lambda m: _Calendar(None, None, int(m[1]))),
]

# Relative days, in days after today. 今/明 alone only in 今晚, 今早, 明早, 明晚, 明晨.
_RELATIVE_DAYS = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "明儿": 1, "明": 1,
                  "今天": 0, "今日": 0, "今儿": 0, "今": 0}
_RELATIVE = re.compile(r"大后天|后天|明天|明日|明儿|今天|今日|今儿|[今明](?=[早晚晨])")

_WEEKDAY = re.compile(r"(这个?|本|下下个?|下个?)?\s*(?:周|週|星期|礼拜|禮拜)\s*([一二三四五六日天1-7])")
_WEEK_PREFIX = {"": None, "这": 0, "这个": 0, "本": 0, "下": 1, "下个": 1, "下下": 2, "下下个": 2}

# Clock forms, in order: 15:30, 15:30:00 · 3点, 3点半, 3点整, 3点钟, 3点15(分), 3点1刻, 15时30分 · 3pm · 下午3
_COLON = re.compile(_D + r"\s*:\s*([0-9]{2})(?::[0-9]{2})?" + _END)  # 17:20, 17:20:00 (the seconds dropped)
_HOUR_MARK = re.compile(_D + r"\s*[点時时](?:\s*(?:(半)|(整|钟|鐘)|([1-3])\s*刻|([0-9]{1,2})" + _END + r"\s*分?))?")
_BEFORE_AMPM = re.compile(_D + r"(?=\s*(?:am|pm|a\.m\.|p\.m\.))")
_AFTER_PERIOD = re.compile(r"(?<=[午上晚早晨])\s*([0-9]{1,2})" + _END)

_PERIOD = re.compile(r"凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜晚|早|晚|晨|a\.m\.|p\.m\.|am|pm")

# Words and marks that may surround a time without changing it.
_FILLER = re.compile(r"大约|大概|左右|前后|到访|来访|约|到|来|[\s,，.。、;；:()\[\]【】~～!！]")


def _cut(text: str, m: re.Match[str]) -> str:
    """The text with the match replaced by a space (so that its neighbours do not join)."""
    return text[: m.start()] + " " + text[m.end():]


def _take_calendar_date(text: str) -> tuple[str, _Calendar | None]:
    for pattern, build in _CALENDAR_FORMS:
        if m := pattern.search(text):
            return _cut(text, m), build(m)
    return text, None


def _take_relative_day(text: str) -> tuple[str, int | None]:
    if m := _RELATIVE.search(text):
        return _cut(text, m), _RELATIVE_DAYS[m.group()]
    return text, None


def _take_weekday(text: str) -> tuple[str, _Weekday | None]:
    if m := _WEEKDAY.search(text):
        name = m[2]
        weekday = 6 if name in "日天7" else (int(name) - 1 if name.isdigit() else WEEKDAY_NAMES.index(name))
        return _cut(text, m), _Weekday(weekday, _WEEK_PREFIX[m[1] or ""], m.group().strip())
    return text, None


def _take_clock(text: str) -> tuple[str, _Clock | None]:
    if m := _COLON.search(text):
        return _cut(text, m), _Clock(int(m[1]), int(m[2]), True, m.group().strip())
    if m := _HOUR_MARK.search(text):
        minute = 30 if m[2] else 0 if m[3] else int(m[4]) * 15 if m[4] else int(m[5]) if m[5] else 0
        return _cut(text, m), _Clock(int(m[1]), minute, False, m.group().strip())
    for pattern in (_BEFORE_AMPM, _AFTER_PERIOD):
        if m := pattern.search(text):
            return _cut(text, m), _Clock(int(m[1]), 0, False, m.group().strip())
    return text, None


def _take_period(text: str) -> tuple[str, str | None]:
    if m := _PERIOD.search(text):
        return _cut(text, m), m.group()
    return text, None


# --- step 4: the day --------------------------------------------------------------------------


def _resolve_day(
    calendar: _Calendar | None, relative: int | None, weekday: _Weekday | None, today: date
) -> date | Refusal:
    """The day meant, against today; a weekday next to a date must agree with it."""
    if calendar is not None:
        day = _resolve_calendar(calendar, today)
    elif relative is not None:
        day = today + timedelta(days=relative)
    elif weekday is not None:
        return _resolve_weekday(weekday, today)
    else:
        return today  # rule 5: a time without a date is today
    if isinstance(day, Refusal):
        return day
    if weekday is not None and weekday.week is None and day.weekday() != weekday.weekday:
        return _refuse("appointment_weekday_mismatch", day=describe_day(datetime.combine(day, time(0))),
                       weekday="周" + WEEKDAY_NAMES[weekday.weekday])
    return day


def _resolve_calendar(c: _Calendar, today: date) -> date | Refusal:
    """Rule 1: a missing year or month rolls forward to the next such day, today included."""
    year, month = c.year, c.month
    if month is None:
        # 25号: this month, or the next one if the 25th has passed.
        year, month = today.year, today.month
        if c.day < today.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    elif year is None:
        year = today.year if (month, c.day) >= (today.month, today.day) else today.year + 1
    try:
        return date(year, month, c.day)
    except ValueError:
        return _refuse("appointment_bad_date", date=_date_text(c.year, month, c.day))


def _resolve_weekday(w: _Weekday, today: date) -> date:
    """Rule 2: next occurrence counting today, or that day of this/next Monday-based week."""
    if w.week is None:
        return today + timedelta(days=(w.weekday - today.weekday()) % 7)
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=w.week, days=w.weekday)


# --- step 5: the time of day ------------------------------------------------------------------


_EVENING = ("傍晚", "晚上", "晚", "夜里", "夜晚")


def _period_hour(period: str, hour: int) -> int | None:
    """Rule 3: the 24-hour hour for an hour said with a period, or None if they do not fit."""
    if period in ("凌晨",):
        return 0 if hour == 12 else hour if hour <= 6 else None
    if period in ("am", "a.m."):
        return 0 if hour == 12 else hour if hour <= 11 else None
    if period in ("早", "早上", "早晨", "晨", "上午"):
        return hour if hour <= 12 else None
    if period == "中午":
        return hour + 12 if 1 <= hour <= 2 else hour if 11 <= hour <= 14 else None
    if period in ("下午", "pm", "p.m."):
        return hour + 12 if 1 <= hour <= 11 else hour if 12 <= hour <= 23 else None
    # 傍晚, 晚上, 晚, 夜里, 夜晚 (1–4 were refused as ambiguous before)
    return hour + 12 if 5 <= hour <= 12 else hour if 17 <= hour <= 24 else None


def _resolve_clock(clock: _Clock, period: str | None, is_today: bool) -> tuple[int, int] | Refusal:
    """Rules 3, 4 and 7: (hour 0–24, minute) or a refusal."""
    written = (period or "") + clock.text
    if clock.hour > 24 or clock.minute > 59 or (clock.hour == 24 and clock.minute):
        return _refuse("appointment_bad_time", time=written)
    if period is not None:
        if period in _EVENING and 1 <= clock.hour <= 4:
            return _refuse("appointment_late_night", time=written, hour=clock.hour)
        hour = _period_hour(period, clock.hour)
        if hour is None or (hour == 24 and clock.minute):
            return _refuse("appointment_bad_time", time=written)
        return hour, clock.minute
    # No period (rule 4).
    if clock.colon or clock.hour == 0 or clock.hour >= 13:
        return clock.hour, clock.minute  # a 24-hour time, as written
    if is_today:
        return _refuse("appointment_today_ambiguous", hour=clock.hour)
    return (clock.hour + 12 if clock.hour <= 6 else clock.hour), clock.minute


# --- helpers ----------------------------------------------------------------------------------


def _refuse(code: str, **params: object) -> Refusal:
    return Refusal.of(Field.APPOINTMENT, code, **params)


def _date_text(year: int | None, month: int, day: int) -> str:
    return (f"{year}年" if year is not None else "") + f"{month}月{day}日"


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
