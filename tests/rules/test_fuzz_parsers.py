"""Fuzzing the parsers (issue 4 §7): any text gives a draft or named refusals, never an exception.

A draft always holds a canonical masked phone, a customer and names within their limits, an
appointment in the office's zone, and no whole phone number; every refusal has its template.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from reportbot.handlers.render import Renderer
from reportbot.handlers.router import split_command
from reportbot.rules import privacy
from reportbot.rules.args import VisitArgs, labelled, parse_past_time, parse_phone_and_labels, parse_visit
from reportbot.rules.phone import Phone, looks_like_phone, parse_phone
from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Refusal
from reportbot.rules.report_fields import NAME_MAX, TEXT_MAX
from reportbot.rules.report_parse import ReportDraft, is_report, parse_report
from reportbot.rules.text import clean_text
from reportbot.rules.timeparse import Appointment, parse_appointment
from tests.fuzz import TELEGRAM_MAX, fuzz_settings, hostile_text, mark

pytestmark = mark

TZ = ZoneInfo("Asia/Shanghai")
POLICY = Policy()
RENDER = Renderer(POLICY.timezone)
CANONICAL = re.compile(r"1[3-9][0-9]\*{3}[0-9]{5}")
moments = st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)).map(lambda d: d.replace(tzinfo=TZ))


def rendered(refusal: Refusal) -> str:
    assert RENDER.has_refusal(refusal.code), refusal.code
    text = RENDER.refusal(refusal)
    assert text and len(text) < TELEGRAM_MAX
    return text


@fuzz_settings(default=300)
@given(text=hostile_text(), now=moments)
def test_any_message_is_a_sound_draft_or_refusals_that_each_have_a_text(text: str, now: datetime) -> None:
    result = parse_report(text, now, POLICY)
    if isinstance(result, ReportDraft):
        assert CANONICAL.fullmatch(result.phone.masked)
        assert 1 <= len(result.customer) <= NAME_MAX and not any(ch.isdigit() for ch in result.customer)
        assert 1 <= len(result.team) <= NAME_MAX and 1 <= len(result.canvasser) <= NAME_MAX
        assert result.appointment.tzinfo is not None
        for free in (result.note, result.reason):
            assert free is None or len(free) <= TEXT_MAX
            assert free is None or not privacy.contains_full_number(privacy.mask_full_numbers(free, 5))
    else:
        assert result and all(isinstance(r, Refusal) for r in result)
        for refusal in result:
            assert not privacy.contains_full_number(rendered(refusal))
    assert is_report(text) in (True, False)


@fuzz_settings(default=300)
@given(text=hostile_text())
def test_any_phone_argument_is_a_canonical_mask_or_a_refusal_that_never_shows_the_number(text: str) -> None:
    for suffix in (4, 5):
        phone = parse_phone(text, suffix)
        if isinstance(phone, Phone):
            assert len(phone.masked) == 11 and phone.masked.count("*") == 8 - suffix
            assert phone.was_full == (phone.full is not None)
        else:
            assert not privacy.contains_full_number(rendered(phone))
    assert looks_like_phone(text) in (True, False)


@fuzz_settings(default=300)
@given(text=hostile_text(), now=moments)
def test_the_command_arguments_and_times_never_raise(text: str, now: datetime) -> None:
    visit = parse_visit(text, 5)
    assert isinstance(visit, VisitArgs | Refusal)
    if isinstance(visit, VisitArgs):
        assert 0 <= visit.companions <= 99
    assert isinstance(parse_phone_and_labels(text, 5), tuple | Refusal)
    head, values = labelled(text)
    assert isinstance(head, str) and all(isinstance(v, str) for v in values.values())
    past = parse_past_time(text, now)
    assert past is None or past <= now + timedelta(days=1)
    appointment = parse_appointment(text, now)
    assert isinstance(appointment, Appointment | Refusal)
    command = split_command(text)
    assert command is None or (len(command[0]) <= 32 and isinstance(command[1], str))


@fuzz_settings(default=300)
@given(text=hostile_text())
def test_cleaning_keeps_no_control_character_and_masking_leaves_no_whole_number(text: str) -> None:
    clean = clean_text(text)
    assert "\x00" not in clean and "\u202e" not in clean and "\r" not in clean
    assert clean_text(clean) == clean
    assert not privacy.contains_full_number(privacy.mask_full_numbers(text, 5))


@fuzz_settings(default=300)
@given(text=hostile_text())
def test_the_quick_check_before_masking_never_passes_over_a_number_the_full_pattern_finds(text: str) -> None:
    # rules.privacy tries its full pattern only where the bare number's pattern matches first.
    assert privacy.contains_full_number(text) == (privacy._FULL_MOBILE.search(text) is not None)
