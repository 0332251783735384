"""Arguments of the lifecycle commands (/visit, /claim, /revoke, /release, /follow, /rereport). Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from reportbot.rules.phone import Phone, parse_phone
from reportbot.rules.refusal import Field, Refusal

_LABELS = {
    "带客": "brought", "拓客": "brought", "行销": "brought",
    "队名": "team", "团队": "team",
    "同行": "companions", "同行人数": "companions",
    "原因": "reason", "理由": "reason",
    "接手": "successor", "跟进人": "successor",
    "证据": "proof", "记录": "proof",
    "时间": "time", "证据时间": "time",
    "到访": "appointment", "到访时间": "appointment", "预约": "appointment",
}
_LABEL_RE = re.compile(
    "(" + "|".join(sorted(map(re.escape, _LABELS), key=len, reverse=True)) + r")\s*[:：]"
)
_COUNT = re.compile(r"^(\d{1,2})\s*人?$")
_PAST_TIME = re.compile(r"^(?:(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})[日号]?\s*)?(\d{1,2})[:：点](\d{2})?分?$")


def labelled(text: str) -> tuple[str, dict[str, str]]:
    """The leading unlabelled words, and the value after each label (up to the next label)."""
    matches = list(_LABEL_RE.finditer(text))
    if not matches:
        return text.strip(), {}
    head = text[: matches[0].start()]
    values: dict[str, str] = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        values[_LABELS[match.group(1)]] = text[match.end() : end].strip(" ,，;；、\n\t")
    return head.strip(), values


@dataclass(frozen=True)
class VisitArgs:
    phone: Phone
    brought: str | None
    team: str | None
    companions: int


def parse_visit(text: str, suffix_digits: int) -> VisitArgs | Refusal:
    """'/visit 138***88888 带客：李四 队名：飞虎队 同行：2' (everything after the phone is optional)."""
    head, values = labelled(unicodedata.normalize("NFKC", text))
    phone = parse_phone(head, suffix_digits)
    if isinstance(phone, Refusal):
        return phone
    companions = 0
    if "companions" in values:
        count = _COUNT.match(values["companions"])
        if not count:
            return Refusal.of(Field.FORMAT, "visit_companions", given=values["companions"][:20])
        companions = int(count.group(1))
    return VisitArgs(phone, values.get("brought") or None, values.get("team") or None, companions)


def parse_phone_and_labels(text: str, suffix_digits: int) -> tuple[Phone, dict[str, str]] | Refusal:
    """A phone first, then labelled values ('/revoke 138***88888 原因：… 接手：王五')."""
    head, values = labelled(unicodedata.normalize("NFKC", text))
    phone = parse_phone(head, suffix_digits)
    return phone if isinstance(phone, Refusal) else (phone, values)


def parse_past_time(text: str, now: datetime) -> datetime | None:
    """A proof's time, '11-23 09:10' or '2026-11-23 09:10' or '09:10' (today): the latest such moment
    not after ``now``. None when unreadable."""
    match = _PAST_TIME.match(unicodedata.normalize("NFKC", text).strip())
    if not match:
        return None
    year, month, day, hour, minute = match.groups()
    try:
        if month is None:
            candidate = now.replace(hour=int(hour), minute=int(minute or 0), second=0, microsecond=0)
        else:
            candidate = now.replace(
                year=int(year) if year else now.year, month=int(month), day=int(day),
                hour=int(hour), minute=int(minute or 0), second=0, microsecond=0,
            )
            if not year and candidate > now:
                candidate = candidate.replace(year=now.year - 1)
    except ValueError:
        return None
    return candidate
