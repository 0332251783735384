"""The cells of a spreadsheet of reports as values: times and statuses (issue 27).

Times come three ways. An Excel date cell arrives as a ``datetime`` (openpyxl reads it; it carries no time
zone: it is the office's wall time). A number is an Excel serial day (a date column formatted as a number,
or a CSV saved from one): days since 1899-12-30, the fraction the time of day. Text is what people type:
``2026/11/3 14:00``, ``2026-11-03 14:00:00``, ``2026.11.3 14:00``, ``2026年11月3日 14时30分``, ``11/3 14:00``
(no year: the latest such time not after ``now``), full-width digits, ``下午2:30`` or ``2:30 PM``. A date
without a time of day is refused: first come is decided by the minute, and midnight is not a guess.

Statuses are the words sheets use (有效, 已到访, 已失效) and the ones ``/export`` writes (待确认, 已确认,
已驳回, 已到访, 已失效).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Final

from reportbot.rules.model import Status
from reportbot.rules.report_text import fold

EXCEL_EPOCH: Final = datetime(1899, 12, 30)
# Serial days Excel can hold (1900-01-01 … 9999-12-31); anything else in a time column is no date.
_SERIAL_RANGE: Final = (1.0, 2_958_465.99999)

STATUS_WORDS: Final[dict[str, Status]] = {
    "有效": Status.CONFIRMED, "已确认": Status.CONFIRMED, "确认": Status.CONFIRMED, "保护中": Status.CONFIRMED,
    "报备有效": Status.CONFIRMED, "confirmed": Status.CONFIRMED, "valid": Status.CONFIRMED,
    "待确认": Status.PENDING, "待审核": Status.PENDING, "pending": Status.PENDING,
    "已驳回": Status.REJECTED, "驳回": Status.REJECTED, "无效": Status.REJECTED, "rejected": Status.REJECTED,
    "已到访": Status.VISITED, "到访": Status.VISITED, "已来访": Status.VISITED, "visited": Status.VISITED,
    "已失效": Status.EXPIRED, "失效": Status.EXPIRED, "过期": Status.EXPIRED, "已过期": Status.EXPIRED,
    "expired": Status.EXPIRED,
}
STATUS_SHOWN: Final = "有效、已到访、已失效（或 待确认、已确认、已驳回）"

_SEP = r"\s*[-/.]\s*"
_DATE_YMD = re.compile(rf"(?P<y>\d{{4}})(?:{_SEP}|\s*年\s*)(?P<m>\d{{1,2}})(?:{_SEP}|\s*月\s*)(?P<d>\d{{1,2}})\s*[日号]?")
_DATE_MD = re.compile(r"(?P<m>\d{1,2})(?:\s*[-/.]\s*|\s*月\s*)(?P<d>\d{1,2})\s*[日号]?")
_PERIOD = r"(?P<period>上午|早上|中午|下午|晚上|am|pm|a\.m\.|p\.m\.)?"
_CLOCK = re.compile(
    rf"{_PERIOD}\s*(?P<h>\d{{1,2}})\s*(?:[:：]\s*(?P<mi>\d{{2}})(?:\s*[:：]\s*(?P<s>\d{{2}})(?:\.\d+)?)?"
    rf"|[时点]\s*(?:(?P<mi2>\d{{1,2}})\s*分?|(?P<half>半))?)\s*(?P<after>am|pm|a\.m\.|p\.m\.)?"
)


class TimeProblem(str):
    """Why a cell is no time: ``unreadable``, ``no_time`` (a date without a time of day)."""


UNREADABLE = TimeProblem("unreadable")
NO_TIME = TimeProblem("no_time")

Cell = str | int | float | datetime | date | time | None


def from_serial(serial: float) -> datetime | None:
    """An Excel serial day as wall time, to the minute (Excel stores 14:00 as 0.58333…; rounding, not cutting)."""
    if not _SERIAL_RANGE[0] <= serial <= _SERIAL_RANGE[1]:
        return None
    return EXCEL_EPOCH + timedelta(minutes=round(serial * 24 * 60))


def read_time(value: Cell, now: datetime) -> datetime | TimeProblem | None:
    """A cell as an aware time in ``now``'s zone (the office's), None when empty.

    ``now`` (aware, the office's zone) dates a time written without a year: the latest one not after it."""
    tz = now.tzinfo
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        wall = value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value
        return _aware(wall.replace(second=0, microsecond=0), now)
    if isinstance(value, time):
        return UNREADABLE
    if isinstance(value, date):
        return NO_TIME
    if isinstance(value, bool):
        return UNREADABLE
    if isinstance(value, int | float):
        found = from_serial(float(value))
        return UNREADABLE if found is None else _aware(found, now)
    return _read_text(value, now)


def _aware(wall: datetime, now: datetime) -> datetime:
    return wall.replace(tzinfo=now.tzinfo)


def _read_text(value: str, now: datetime) -> datetime | TimeProblem:
    text = " ".join(fold(value).lower().split())
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text):  # a serial day written out (a CSV saved from a number column)
        serial = from_serial(float(text))
        return UNREADABLE if serial is None else _aware(serial, now)
    text = re.sub(r"^(\d{4}-\d{1,2}-\d{1,2})t(?=\d)", r"\1 ", text)  # ISO 8601: 2026-11-03T14:00
    ymd = _DATE_YMD.match(text)
    md = None if ymd else _DATE_MD.match(text)
    found = ymd or md
    if found is None:
        return UNREADABLE
    rest = text[found.end():].strip(" ,，")
    rest = re.sub(r"^[(（]?(?:周|星期|礼拜)[一二三四五六日天][)）]?", "", rest).strip()
    if not rest:
        return NO_TIME
    clock = _CLOCK.fullmatch(rest)
    if clock is None:
        return UNREADABLE
    hm = _clock(clock)
    if hm is None:
        return UNREADABLE
    month, day = int(found["m"]), int(found["d"])
    try:
        if ymd:
            return _aware(datetime(int(found["y"]), month, day, *hm), now)
        at = _aware(datetime(now.year, month, day, *hm), now)
        return at if at <= now else _aware(datetime(now.year - 1, month, day, *hm), now)
    except ValueError:  # 2月30日; 2月29日 of a year that has none
        return UNREADABLE


def _clock(m: re.Match[str]) -> tuple[int, int] | None:
    hour = int(m["h"])
    minute = int(m["mi"] or m["mi2"] or 0) + (30 if m["half"] else 0)
    period = m["period"] or m["after"]
    if period in ("下午", "晚上", "pm", "p.m."):
        if not 1 <= hour <= 12:
            return None
        hour = hour if hour == 12 else hour + 12
    elif period in ("上午", "早上", "am", "a.m.") and hour == 12:
        hour = 0
    elif period == "中午" and hour in (1, 2):
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return hour, minute


def read_status(value: Cell) -> Status | None | str:
    """A status cell: the status, None when empty, or the text as written when it is no status."""
    if value is None:
        return None
    text = "".join(fold(str(value)).lower().split())
    if not text:
        return None
    return STATUS_WORDS.get(text, str(value).strip())


def as_text(value: Cell) -> str:
    """A cell as the text a person sees in it: numbers without a spurious '.0' (a phone typed into a number
    cell arrives as 13812345678.0), times as written by /export."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
