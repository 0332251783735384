"""Reading a report (报备) message into a draft, or saying everything that is wrong with it (SPEC §3).

Canvassers paste the templates their teams already use, so the parser reads a report by what it holds:

* **the header** — ``/report``, ``报备``, ``【报备】``, ``【客户报备】``, ``#报备#``, ``报备客户``, ``客户报备``, a
  project name before 报备 (``森林半岛报备``). A header with a name before it, or one glued to words
  (``报备了吗``), counts only when the message holds labelled fields or a phone: chatter is no report.
  In a private chat a message with no header that holds a phone and a customer or a visit time is a
  report too (``is_report(private=True)``); in a group never.
* **labelled fields**, in any order: the labels of :mod:`reportbot.rules.report_labels` followed by a
  colon (``：`` or ``:``, spaces around it allowed), or at the start of a line by a space or a tab;
  fields on one line separated by spaces, ``，`` ``；`` ``;``, emoji or bullets. A line starting with a
  label the bot does not use (到访人数：2人) is left alone, never read into the field before it.
  ``到访日期`` and ``到访时间`` on two lines make one visit time.
* **one positional line** when no label is used at all: ``报备 张先生 138***88888 飞虎队 李四 明天下午3点``.

A refused report gets *every* problem at once, in field order, and ``read_report`` also says what was
understood of each field (``Reading.understood``) so that the canvasser fixes one thing and resends.
One customer per report: two different customers or phones in one message are refused as such, and a
second phone that is not labelled as someone else's (经纪人电话) or written into the note is an error, not
a guess.

The appointment time is read by :mod:`reportbot.rules.timeparse`; whether it lies in the report
window is checked later, by the service, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from reportbot.rules.phone import MASK_CHARS, Phone, looks_like_phone
from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Field, Refusal
from reportbot.rules.report_fields import (
    check_appointment,
    check_customer,
    check_name,
    check_optional,
    check_phone,
)
from reportbot.rules.report_labels import (
    DATE,
    IGNORED,
    NOT_THE_CUSTOMERS_PHONE,
    PROJECT,
    REQUIRED,
    find_labels,
)
from reportbot.rules.report_text import clean, fold, normalise
from reportbot.rules.timeparse import parse_appointment

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
    project: str | None = None  # 项目：… — picks the project when the sender belongs to several


@dataclass(frozen=True)
class Understood:
    """What was made of one field: its value as it will be recorded, or why not."""

    field: Field
    status: Literal["ok", "wrong", "missing"]
    value: str | None = None  # as recorded (a phone masked, a time as written); None unless ok
    when: datetime | None = None  # the visit time as understood


@dataclass(frozen=True)
class Reading:
    """The whole answer: a draft, or the refusals; and what was understood of each field either way."""

    draft: ReportDraft | None
    refusals: tuple[Refusal, ...]
    understood: tuple[Understood, ...]
    project: str | None = None


def is_report(text: str, *, private: bool = False) -> bool:
    """Is this message meant as a report? By its header; in a private chat also by what it holds."""
    folded = fold(clean(text))
    if _header_end(folded) is not None:
        return True
    return private and _holds_a_report(folded)


def named_project(text: str) -> str | None:
    """The project a report names on a line of its own (项目：森林半岛), if it does."""
    original = clean(text)
    folded = fold(original)
    start = _header_end(folded) or 0
    found = _labelled(original[start:], folded[start:])
    return None if found is None else found[2]


def parse_report(text: str, now: datetime, policy: Policy) -> ReportDraft | tuple[Refusal, ...]:
    """Read a whole report message; return the draft, or every problem found, in field order."""
    reading = read_report(text, now, policy)
    return reading.draft if reading.draft is not None else reading.refusals


def read_report(text: str, now: datetime, policy: Policy) -> Reading:
    """Read a whole report message: the draft or every problem, and what was understood of each field."""
    original = clean(text)
    folded = fold(original)
    start = _header_end(folded) or 0
    original, folded = original[start:], folded[start:]

    found = _labelled(original, folded)
    project = None
    early: dict[Field, Refusal] = {}
    if found is None:
        positional = _positional_values(original, folded)
        if positional is None:
            return Reading(None, (Refusal.of(Field.FORMAT, "report_format"),), ())
        values = positional
    else:
        values, early, project = found

    def check(field_: Field, checker: Callable[..., Any], *args: object) -> Any:
        # a field written twice, or two customers in one message, is refused as such
        return early.get(field_) or checker(values.get(field_), *args)

    if found is None and isinstance(check_appointment(values.get(Field.APPOINTMENT), now), Refusal):
        values = _time_elsewhere(values, now) or values
    elif "\n" in (when := values.get(Field.APPOINTMENT, "")) and isinstance(check_appointment(when, now), Refusal):
        first = next(line for line in when.split("\n") if line.strip())  # 到访：明天上午10点\n谢谢！
        if not isinstance(check_appointment(first, now), Refusal):
            values = {**values, Field.APPOINTMENT: first}
    results: dict[Field, Any] = {
        Field.CUSTOMER: check(Field.CUSTOMER, check_customer),
        Field.PHONE: check(Field.PHONE, check_phone, policy),
        Field.TEAM: check(Field.TEAM, check_name, Field.TEAM, True),
        Field.CANVASSER: check(Field.CANVASSER, check_name, Field.CANVASSER, False),
        Field.APPOINTMENT: check(Field.APPOINTMENT, check_appointment, now),
        Field.NOTE: check(Field.NOTE, check_optional, Field.NOTE),
        Field.REASON: check(Field.REASON, check_optional, Field.REASON),
    }
    understood = tuple(_understood(f, results[f], values.get(f)) for f in (*REQUIRED, Field.NOTE) if
                       f in REQUIRED or values.get(f))
    refusals = tuple(r for r in results.values() if isinstance(r, Refusal))
    several = [r for r in refusals if r.code == "report_several_customers"]
    if several:  # the one thing to fix; what else is wrong follows from it
        return Reading(None, tuple(several), understood, project)
    if refusals:
        return Reading(None, refusals, understood, project)
    at, appointment_text = results[Field.APPOINTMENT]
    draft = ReportDraft(results[Field.CUSTOMER], results[Field.PHONE], results[Field.TEAM], results[Field.CANVASSER],
                        at, appointment_text, results[Field.NOTE], results[Field.REASON], project)
    return Reading(draft, (), understood, project)


def _understood(field_: Field, result: Any, raw: str | None) -> Understood:
    if isinstance(result, Refusal):
        return Understood(field_, "missing" if not (raw or "").strip() else "wrong")
    if isinstance(result, Phone):
        return Understood(field_, "ok", result.masked)
    if isinstance(result, tuple):  # the appointment: (when, as written)
        return Understood(field_, "ok", result[1], result[0])
    return Understood(field_, "ok", result)


# -- the header ------------------------------------------------------------------------------------

_SLASH = re.compile(r"\s*/report(?:@\w+)?(?![\w@])\s*:?", re.IGNORECASE)
_HEADER = re.compile(
    r"\s*[#【\[(]*[ \t]*"
    r"(?:(?P<name>[\u4e00-\u9fffA-Za-z]{1,12}?)[ \t]*[】\])]?[ \t]*)??"
    r"(?P<word>(?:客户)?报备(?!人|时间|日期|项目|说明|须知|规则)(?:(?:客户|信息)(?![ \t]*:))?)"
    r"(?P<close>[ \t]*[#】\])]+)?[ \t]*:?"
)
_AFTER_THE_WORD = " \t\n:#】])(,;、。!/|"


def _header_end(folded: str) -> int | None:
    """Where the header ends, or None when the message has none (SPEC §3, module docstring)."""
    slash = _SLASH.match(folded)
    if slash is not None:
        return slash.end()
    match = _HEADER.match(folded)
    if match is None:
        return None
    name = match["name"]
    after = match.end("word")
    glued = after < len(folded) and folded[after] not in _AFTER_THE_WORD
    end = match.end()
    closed = match.end("close") if match["close"] else -1  # 【报备】请大家注意格式: words glued to the bracket
    glued = glued or (closed == end and end < len(folded) and not folded[end].isspace())
    if (name is None or name == "客户") and not glued:
        return end  # 报备, 【报备】, #报备#, 客户报备, 报备： … on their own line or before a space
    rest = folded[end:]
    if len(_filled_fields(rest)) >= 2:
        return end  # 森林半岛报备, 【报备】客户：…, 报备客户：… — a template follows
    if name is None and _phone_in(rest) and len(_WORDS.findall(rest)) >= 4:
        return match.end()  # 报备张先生 138***88888 飞虎队 李四 明天下午3点
    return None  # 已报备, 报备了吗, 王五报备的客户电话…: talk about reports, no report


def _holds_a_report(folded: str) -> bool:
    """No header: a phone and a customer or a visit time, labelled, or three fields of a report (one is
    missing: it is answered with the refusal that names it); or a positional line of five words."""
    fields = _filled_fields(folded) & set(REQUIRED)
    if len(fields) >= 3 or (Field.PHONE in fields and fields & {Field.CUSTOMER, Field.APPOINTMENT}):
        return True
    return not find_labels(folded) and _phone_in(folded) and len(_WORDS.findall(folded)) >= 5


def _filled_fields(folded: str) -> set[Field]:
    """The fields that carry a value under a label (a list of labels with nothing after them is no report)."""
    found = _labelled(folded, folded)
    return set() if found is None else {f for f, value in found[0].items() if value.strip()}


# -- labelled form ---------------------------------------------------------------------------------

_VALUE_EDGES = " \t\n,;、。:|/"
_LIST_MARK = re.compile(r"[ \t]*(?:[-*•·>●○◆◇]+|\d{1,2}[.、)]?)[ \t]*")


def _labelled(original: str, folded: str) -> tuple[dict[Field, str], dict[Field, Refusal], str | None] | None:
    """The value after each label (up to the next label); None when the text has no field label."""
    labels = find_labels(folded)
    if not any(isinstance(kind, Field) for _, _, kind, _ in labels):
        return None
    values: dict[Field, str] = {}
    early: dict[Field, Refusal] = {}
    others: dict[str, str] = {}
    phones: list[str] = []  # every phone the message shows outside the lines of someone else's number
    for (_, value_start, kind, label), following in zip(labels, [*labels[1:], None], strict=True):
        end = following[0] if following else len(folded)
        value = _strip_edges(original, folded, value_start, end)
        if kind not in (Field.NOTE, Field.REASON) and not (kind == IGNORED and label in NOT_THE_CUSTOMERS_PHONE):
            phones += _phones_in(folded[value_start:end])  # a note may name a relative's number: masked, no guess
        if not isinstance(kind, Field):
            others.setdefault(kind, value)
            continue
        if values.get(kind) and value and normalise(values[kind]) != normalise(value):
            if kind in (Field.CUSTOMER, Field.PHONE):
                early[Field.CUSTOMER] = Refusal.of(Field.CUSTOMER, "report_several_customers")
            else:
                early[kind] = Refusal.of(kind, "report_field_twice", label=FIELD_NAMES[kind])
        if not values.get(kind):
            values[kind] = value
    for field_ in (Field.CUSTOMER, Field.PHONE, Field.TEAM, Field.CANVASSER):
        if "\n" in values.get(field_, ""):  # a name is one line: 客户：\n张先生, or what follows it is no name
            values[field_] = next((line.strip() for line in values[field_].split("\n") if line.strip()), "")
    if others.get(DATE):  # 到访日期 and 到访时间 on two lines: one visit time
        values[Field.APPOINTMENT] = f"{others[DATE]} {values.get(Field.APPOINTMENT, '')}".strip()
    if len(set(phones)) > 1 and Field.CUSTOMER not in early:
        early[Field.PHONE] = Refusal.of(Field.PHONE, "phone_two")
    return values, early, normalise(others.get(PROJECT, "")) or None


def _strip_edges(original: str, folded: str, start: int, end: int) -> str:
    """``original[start:end]`` without separators or whitespace at either end (judged on ``folded``), nor
    the number or bullet that starts the next line's field (``2.``, ``3、``, ``-``)."""
    while start < end and (folded[start] in _VALUE_EDGES or folded[start].isspace()):
        start += 1
    while end > start and (folded[end - 1] in _VALUE_EDGES or folded[end - 1].isspace()):
        end -= 1
    line = folded.rfind("\n", start, end)
    if line >= 0 and _LIST_MARK.fullmatch(folded, line + 1, end):
        return _strip_edges(original, folded, start, line)
    return original[start:end]


# -- phones anywhere -------------------------------------------------------------------------------

_PHONE_SHAPE = re.compile(
    rf"(?<![0-9])1[3-9][0-9](?:[ \-]?[0-9{re.escape(MASK_CHARS)}]){{5,12}}(?![0-9])"
)


def _phones_in(folded: str) -> list[str]:
    """The phones a text shows, each as its first 3 and last 4 digits (enough to tell two apart)."""
    found = []
    for match in _PHONE_SHAPE.finditer(folded):
        written = match[0].replace(" ", "").replace("-", "")
        digits = sum(c.isdigit() for c in written)
        if digits == len(written) == 11 or (digits < len(written) and digits >= 7):
            found.append(written[:3] + written[-4:])  # a whole number, or a masked one showing its ends
    return found


def _phone_in(folded: str) -> bool:
    return bool(_phones_in(folded)) or any(_phone_token(t) and looks_like_phone(t) for t in folded.split())


# -- positional form -------------------------------------------------------------------------------


def _positional_values(original: str, folded: str) -> dict[Field, str] | None:
    """``张先生 138***88888 飞虎队 李四 明天下午3点``; None when nothing in it is recognisable.

    The phone is the landmark: whatever comes before it is the customer; after it come the team,
    the canvasser and, all the rest, the appointment. A phone written in several groups
    (``138 **** 88888``) is taken whole.
    """
    spans = [(m.start(), m.end()) for m in _WORDS.finditer(folded)]
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


def _time_elsewhere(values: dict[Field, str], now: datetime) -> dict[Field, str] | None:
    """A positional line whose visit time is not last (👤康女士 📞139***58585 🕐明天下午2点 🚩猎豹队 🙋康宁):
    the one word after the phone that reads as a time is the visit; the others, in order, team and
    canvasser. None when no word does (the usual order's refusal stands)."""
    rest = _WORDS.findall(" ".join(values.get(f, "") for f in (Field.TEAM, Field.CANVASSER, Field.APPOINTMENT)))
    if len(rest) != 3:
        return None
    for at, word in enumerate(rest):
        if not isinstance(parse_appointment(normalise(fold(word)), now), Refusal):
            team, canvasser = (w for i, w in enumerate(rest) if i != at)
            return {**values, Field.TEAM: team, Field.CANVASSER: canvasser, Field.APPOINTMENT: word}
    return None


_WORDS = re.compile(r"[^\s,;、/|]+")
_PHONE_CHARS = re.compile(rf"\+?[0-9{re.escape(MASK_CHARS)}\-–—]+")


def _phone_token(token: str) -> bool:
    """A word that is a phone, or one group of a phone written with spaces."""
    return _PHONE_CHARS.fullmatch(token) is not None and (looks_like_phone(token) or _phone_group(token))


def _phone_group(token: str) -> bool:
    """``138``, ``****``, ``88888``, ``+86``."""
    return (token.isdigit() and 3 <= len(token) <= 5) or set(token) <= set(MASK_CHARS) or token == "+86"
