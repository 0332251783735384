"""Button data: one versioned codec, within Telegram's 64-byte limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportbot.handlers.callbacks import MAX_BYTES, CardAction, GatheredAction, Verb, decode, decode_gathered
from reportbot.handlers.messages import PICKED
from reportbot.rules.model import RejectReason


def test_every_action_round_trips_within_64_bytes_even_for_the_largest_id() -> None:
    for verb in (v for v in Verb if v is not Verb.ALL):  # 全部确认 is a gathered card's alone
        reasons = list(RejectReason) if verb is Verb.REJECT else [None]
        for reason in reasons:
            action = CardAction(verb, 999_999_999_999_999_999, reason)
            data = action.encode()
            assert len(data.encode()) <= MAX_BYTES
            assert decode(data) == action


@given(st.text(max_size=100))
def test_decoding_arbitrary_data_never_raises(data: str) -> None:
    result = decode(data)
    assert result is None or isinstance(result, CardAction)


def test_a_reject_needs_a_reason_and_only_a_reject_has_one() -> None:
    assert decode("rb1:x:5") is None
    assert decode("rb1:c:5:dup") is None
    assert decode("rb1:x:5:dup") == CardAction(Verb.REJECT, 5, RejectReason.DUPLICATE)


def test_every_gathered_card_action_round_trips_within_64_bytes_even_for_the_largest_ids() -> None:
    big = 999_999_999_999_999_999
    for verb in Verb:
        reasons = list(RejectReason) if verb is Verb.REJECT else [None]
        for reason in reasons:
            action = GatheredAction(verb, big, None if verb is Verb.ALL else big, reason)
            data = action.encode()
            assert len(data.encode()) <= MAX_BYTES and decode_gathered(data) == action and decode(data) is None
    picked = GatheredAction(Verb.CONFIRM, big).encode(PICKED)  # WeCom: the report picked from the card's list
    assert decode_gathered(picked.replace(PICKED, "42")) == GatheredAction(Verb.CONFIRM, big, 42)
    assert decode_gathered(picked.replace(PICKED, "")) == GatheredAction(Verb.CONFIRM, big, None)  # none picked


@pytest.mark.parametrize("data", ["rg1:a:5:3", "rg1:x:5:3", "rg1:c:5:3:format", "rg1:c:0:3", "rg1:q:5:3",
                                  "rg1:x:5:3:nosuch", "rg1:c:5:3:4:5", "rb1:a:5", "rg1:c:5:12345678901234567890"])
def test_malformed_gathered_card_data_is_refused(data: str) -> None:
    assert decode_gathered(data) is None and decode(data) is None


@given(st.text(max_size=100))
def test_decoding_arbitrary_gathered_data_never_raises(data: str) -> None:
    result = decode_gathered(data)
    assert result is None or isinstance(result, GatheredAction)
