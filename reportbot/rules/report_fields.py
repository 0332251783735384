"""The checks of a report's fields once they are read (rules/report_parse.py): each value is the field's
clean value, or the refusal that names the field and what is wrong with it."""

from __future__ import annotations

from datetime import datetime

from reportbot.rules.phone import Phone, parse_phone
from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Field, Refusal
from reportbot.rules.report_text import fold, fold_char, normalise
from reportbot.rules.timeparse import parse_appointment

NAME_MAX = 20  # customer, team and canvasser: at most this many characters
TEXT_MAX = 200  # note and reason


def check_customer(value: str | None) -> str | Refusal:
    name = normalise(value or "")
    if not name:
        return Refusal.of(Field.CUSTOMER, "customer_missing")
    if any(fold_char(ch).isdigit() for ch in name):
        return Refusal.of(Field.CUSTOMER, "customer_digits")
    if len(name) > NAME_MAX:
        return Refusal.of(Field.CUSTOMER, "customer_too_long", max=NAME_MAX, got=len(name))
    return name


def check_phone(value: str | None, policy: Policy) -> Phone | Refusal:
    return parse_phone(value or "", policy.mask_suffix_digits)


def check_name(value: str | None, field_: Field, digits_allowed: bool) -> str | Refusal:
    """Team and canvasser: compared with the sender's registration, so NFKC-normalised."""
    name = normalise(fold(value or ""))
    if not name:
        return Refusal.of(field_, f"{field_.value}_missing")
    if not digits_allowed and any(ch.isdigit() for ch in name):
        return Refusal.of(field_, f"{field_.value}_digits")
    if len(name) > NAME_MAX:
        return Refusal.of(field_, f"{field_.value}_too_long", max=NAME_MAX, got=len(name))
    return name


def check_appointment(value: str | None, now: datetime) -> tuple[datetime, str] | Refusal:
    text = normalise(fold(value or ""))
    if not text:
        return Refusal.of(Field.APPOINTMENT, "appointment_missing")
    result = parse_appointment(text, now)
    if isinstance(result, Refusal):
        return result
    return result.at, text


def check_optional(value: str | None, field_: Field) -> str | None | Refusal:
    text = normalise(value or "")
    if not text:
        return None
    if len(text) > TEXT_MAX:
        return Refusal.of(field_, f"{field_.value}_too_long", max=TEXT_MAX, got=len(text))
    return text
