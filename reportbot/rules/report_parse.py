"""Reading a report (报备) message into a draft, or saying everything that is wrong with it (SPEC §3).

Two shapes are accepted after the leading ``/report`` (``/report@SomeBot``) or ``报备``:

1. Labelled fields, in any order, one per line or separated by spaces or commas, with Chinese or
   English colons::

       报备
       客户：张先生
       电话：138***88888
       队名：飞虎队
       拓客：李四
       到访时间：明天下午3点
       备注：带父母一起来

2. One positional line, when no label is used at all::

       报备 张先生 138***88888 飞虎队 李四 明天下午3点

A refused report gets *every* problem at once, in field order (customer, phone, team, canvasser,
appointment, note, reason), so that the canvasser fixes everything in one go.

The appointment time is read by :mod:`reportbot.rules.timeparse`; whether it lies in the report
window is checked later, by the service, not here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportbot.rules.phone import MASK_CHARS, Phone, looks_like_phone, parse_phone
from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Field, Refusal
from reportbot.rules.timeparse import parse_appointment

NAME_MAX = 20  # customer, team and canvasser: at most this many characters
TEXT_MAX = 200  # note and reason

# Every label a canvasser may write, per field. The longest label wins where labels overlap
# (客户姓名 is one label, not 客户 + 姓名), so order inside a list does not matter.
LABELS: dict[Field, tuple[str, ...]] = {
    Field.CUSTOMER: ("客户", "客户姓名", "姓名", "客户名", "客户名字", "customer"),
    Field.PHONE: (
        "电话", "手机", "手机号", "号码", "手机号码", "电话号码", "联系电话",
        "客户电话", "客户手机", "客户手机号", "客户号码",
        "phone", "mobile", "tel",
    ),
    Field.TEAM: ("队名", "团队", "战队", "队伍", "小组", "team"),
    Field.CANVASSER: (
        "拓客", "行销", "报备人", "姓名(行销)", "行销人员", "拓客人员",
        "行销姓名", "拓客姓名", "报备人姓名",
        "canvasser", "agent",
    ),
    Field.APPOINTMENT: (
        "到访", "到访时间", "预约", "预约时间", "时间", "预约到访", "预约到访时间", "来访时间",
        "time", "visit", "appointment",
    ),
    Field.NOTE: ("备注", "note", "remark"),
    Field.REASON: ("原因", "未到访原因", "reason"),
}

# How a field is named in a refusal's sentence (params ``label``).
FIELD_NAMES: dict[Field, str] = {
    Field.CUSTOMER: "客户",
    Field.PHONE: "电话",
    Field.TEAM: "队名",
    Field.CANVASSER: "拓客姓名",
    Field.APPOINTMENT: "到访时间",
    Field.NOTE: "备注",
    Field.REASON: "原因",
}

@dataclass(frozen=True)
class ReportDraft:
    """A well-formed report, not yet checked against the ledger, the sender or the time window."""

    customer: str
    phone: Phone
    team: str
    canvasser: str
    appointment: datetime
    appointment_text: str
    note: str | None = None
    reason: str | None = None  # 原因 / 未到访原因 (re-reports, SPEC §6)


def is_report(text: str) -> bool:
    """Does this message start with ``/report`` (``/report@SomeBot``) or the word ``报备``?

    ``报备人：李四`` is a label, not the command.
    """
    return _COMMAND.match(_fold(_clean(text))) is not None


def parse_report(text: str, now: datetime, policy: Policy) -> ReportDraft | tuple[Refusal, ...]:
    """Read a whole report message; return the draft, or every problem found, in field order."""
    original = _clean(text)
    folded = _fold(original)
    command = _COMMAND.match(folded)
    start = command.end() if command else 0
    original, folded = original[start:], folded[start:]

    labelled = _labelled_values(original, folded)
    if labelled is None:
        values = _positional_values(original, folded)
        if values is None:
            return (Refusal.of(Field.FORMAT, "report_format"),)
        twice: dict[Field, Refusal] = {}
    else:
        values, twice = labelled

    def check(field_: Field, checker: Callable[..., Any], *args: object) -> Any:
        # a field written twice is refused as such
        return twice.get(field_) or checker(values.get(field_), *args)

    customer = check(Field.CUSTOMER, _check_customer)
    phone = check(Field.PHONE, _check_phone, policy)
    team = check(Field.TEAM, _check_name, Field.TEAM, True)
    canvasser = check(Field.CANVASSER, _check_name, Field.CANVASSER, False)
    appointment = check(Field.APPOINTMENT, _check_appointment, now)
    note = check(Field.NOTE, _check_optional, Field.NOTE)
    reason = check(Field.REASON, _check_optional, Field.REASON)

    refusals = tuple(
        r for r in (customer, phone, team, canvasser, appointment, note, reason) if isinstance(r, Refusal)
    )
    if refusals:
        return refusals
    at, appointment_text = appointment
    return ReportDraft(customer, phone, team, canvasser, at, appointment_text, note, reason)


# -- cleaning --------------------------------------------------------------------------------------
#
# Two parallel strings of the same length are kept: ``original`` (only invisible characters
# removed: the customer's name stays as typed) and ``folded`` (each character NFKC-normalised on
# its own when that gives one character: full-width digits, colons, parentheses, letters, the
# ideographic space). Labels, colons and the command are found in ``folded``; a value is cut from
# whichever of the two its field needs, at the same positions.

_LINE_BREAKS = {"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n", "\t": " ", "\v": "\n", "\f": "\n"}
_DROPPED = ("Cc", "Cf", "Cs", "Co", "Cn")
_CACHED_CHARACTERS = 65_536  # per table: a message of random code points cannot make it grow without end


class _CharacterTable(dict[int, "str | None"]):
    """A ``str.translate`` table filled on first sight of each character: one C loop per message
    instead of a Python call per character (every message is cleaned and folded twice)."""

    def __init__(self, rule: Callable[[str], str | None]) -> None:
        super().__init__()
        self._rule = rule

    def __missing__(self, code: int) -> str | None:
        value = self._rule(chr(code))
        if len(self) < _CACHED_CHARACTERS:
            self[code] = value
        return value


def _clean_char(ch: str) -> str | None:
    ch = _LINE_BREAKS.get(ch, ch)
    if ch != "\n" and unicodedata.category(ch) in _DROPPED:
        return None
    return ch


_CLEAN = _CharacterTable(_clean_char)


def _clean(text: str) -> str:
    """Line breaks unified; zero-width, format and control characters removed."""
    return text.replace("\r\n", "\n").translate(_CLEAN)


def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        return ch
    decimal = unicodedata.decimal(folded, None)
    return str(decimal) if decimal is not None else folded


_FOLD = _CharacterTable(_fold_char)


def _fold(text: str) -> str:
    return text.translate(_FOLD)


def _normalise(value: str) -> str:
    """Trimmed, every run of whitespace (full-width spaces and line breaks too) one space."""
    return " ".join(value.split())


# -- the command -----------------------------------------------------------------------------------

_COMMAND = re.compile(r"\s*(?:/report(?:@\w+)?(?![\w@])|报备(?!人))\s*:?", re.IGNORECASE)


# -- labelled form ---------------------------------------------------------------------------------


def _label_pattern(label: str) -> str:
    if label.isascii() and label.isalpha():
        return rf"(?<![A-Za-z]){re.escape(label)}(?![A-Za-z])"
    # 姓名(行销): spaces allowed inside the parentheses; '（）' are folded to '()' already.
    return r"\s*".join(re.escape(part) for part in re.split(r"(?=[()])|(?<=[()])", label) if part)


_LABEL_OF: dict[str, Field] = {label.lower(): f for f, labels in LABELS.items() for label in labels}
_LABEL_RE = re.compile(
    r"(?P<label>"
    + "|".join(_label_pattern(label) for label in sorted(_LABEL_OF, key=len, reverse=True))
    + r")[ \t]*:",
    re.IGNORECASE,
)
_VALUE_EDGES = " \t\n,;、。"


def _labelled_values(
    original: str, folded: str
) -> tuple[dict[Field, str], dict[Field, Refusal]] | None:
    """The value after each label (up to the next label); None when the text has no label."""
    matches = list(_LABEL_RE.finditer(folded))
    if not matches:
        return None
    values: dict[Field, str] = {}
    twice: dict[Field, Refusal] = {}
    for match, following in zip(matches, matches[1:] + [None], strict=True):
        field_ = _LABEL_OF[re.sub(r"\s+", "", match.group("label")).lower()]
        end = following.start() if following else len(folded)
        value = _strip_edges(original, folded, match.end(), end)
        if field_ in values and values[field_] != value:
            twice[field_] = Refusal.of(field_, "report_field_twice", label=FIELD_NAMES[field_])
        values.setdefault(field_, value)
    return values, twice


def _strip_edges(original: str, folded: str, start: int, end: int) -> str:
    """``original[start:end]`` without separators or whitespace at either end (judged on ``folded``)."""
    while start < end and (folded[start] in _VALUE_EDGES or folded[start].isspace()):
        start += 1
    while end > start and (folded[end - 1] in _VALUE_EDGES or folded[end - 1].isspace()):
        end -= 1
    return original[start:end]


# -- positional form -------------------------------------------------------------------------------


def _positional_values(original: str, folded: str) -> dict[Field, str] | None:
    """``张先生 138***88888 飞虎队 李四 明天下午3点``; None when nothing in it is recognisable.

    The phone is the landmark: whatever comes before it is the customer; after it come the team,
    the canvasser and, all the rest, the appointment. A phone written in several groups
    (``138 **** 88888``) is taken whole.
    """
    spans = [(m.start(), m.end()) for m in re.finditer(r"[^\s,;、]+", folded)]
    tokens = [original[a:b] for a, b in spans]
    folded_tokens = [folded[a:b] for a, b in spans]
    phone_at = next((i for i, t in enumerate(folded_tokens) if _phone_token(t)), None)

    if phone_at is None:
        if len(tokens) >= 5:
            phone_at = 1  # fixed order: the second word is meant as the phone, but it is not one
        elif len(tokens) >= 3:
            # No phone at all: customer, team, canvasser, appointment as far as they go.
            values = {Field.CUSTOMER: tokens[0], Field.TEAM: tokens[1], Field.CANVASSER: tokens[2]}
            if len(tokens) > 3:
                values[Field.APPOINTMENT] = tokens[3]
            return values
        else:
            return None

    phone_end, digits, masked = phone_at, 0, False
    while phone_end < len(tokens) and (phone_end == phone_at or _phone_token(folded_tokens[phone_end])):
        token = folded_tokens[phone_end]
        digits += sum(c.isdigit() for c in token)
        masked = masked or any(c in MASK_CHARS for c in token)
        phone_end += 1
        if digits >= 11 or (masked and digits >= 3 and token.rstrip("-–—")[-1:].isdigit()):
            break  # a whole number (full, or masked and ending with its visible suffix)
    rest = tokens[phone_end:]
    values = {
        Field.CUSTOMER: " ".join(tokens[:phone_at]),
        Field.PHONE: " ".join(tokens[phone_at:phone_end]),
    }
    if len(rest) > 0:
        values[Field.TEAM] = rest[0]
    if len(rest) > 1:
        values[Field.CANVASSER] = rest[1]
    if len(rest) > 2:
        values[Field.APPOINTMENT] = " ".join(rest[2:])
    return values


_PHONE_CHARS = re.compile(rf"\+?[0-9{re.escape(MASK_CHARS)}\-–—]+")


def _phone_token(token: str) -> bool:
    """A word that is a phone, or one group of a phone written with spaces."""
    return _PHONE_CHARS.fullmatch(token) is not None and (looks_like_phone(token) or _phone_group(token))


def _phone_group(token: str) -> bool:
    """``138``, ``****``, ``88888``, ``+86``."""
    return (token.isdigit() and 3 <= len(token) <= 5) or set(token) <= set(MASK_CHARS) or token == "+86"


# -- field checks ----------------------------------------------------------------------------------


def _check_customer(value: str | None) -> str | Refusal:
    name = _normalise(value or "")
    if not name:
        return Refusal.of(Field.CUSTOMER, "customer_missing")
    if any(_fold_char(ch).isdigit() for ch in name):
        return Refusal.of(Field.CUSTOMER, "customer_digits")
    if len(name) > NAME_MAX:
        return Refusal.of(Field.CUSTOMER, "customer_too_long", max=NAME_MAX, got=len(name))
    return name


def _check_phone(value: str | None, policy: Policy) -> Phone | Refusal:
    return parse_phone(value or "", policy.mask_suffix_digits)


def _check_name(value: str | None, field_: Field, digits_allowed: bool) -> str | Refusal:
    """Team and canvasser: compared with the sender's registration, so NFKC-normalised."""
    name = _normalise(_fold(value or ""))
    if not name:
        return Refusal.of(field_, f"{field_.value}_missing")
    if not digits_allowed and any(ch.isdigit() for ch in name):
        return Refusal.of(field_, f"{field_.value}_digits")
    if len(name) > NAME_MAX:
        return Refusal.of(field_, f"{field_.value}_too_long", max=NAME_MAX, got=len(name))
    return name


def _check_appointment(value: str | None, now: datetime) -> tuple[datetime, str] | Refusal:
    text = _normalise(_fold(value or ""))
    if not text:
        return Refusal.of(Field.APPOINTMENT, "appointment_missing")
    result = parse_appointment(text, now)
    if isinstance(result, Refusal):
        return result
    return result.at, text


def _check_optional(value: str | None, field_: Field) -> str | None | Refusal:
    text = _normalise(value or "")
    if not text:
        return None
    if len(text) > TEXT_MAX:
        return Refusal.of(field_, f"{field_.value}_too_long", max=TEXT_MAX, got=len(text))
    return text
