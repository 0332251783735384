"""Button data: one versioned codec, within Telegram's 64-byte limit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reportbot.handlers.callbacks import MAX_BYTES, CardAction, Verb, decode
from reportbot.rules.model import RejectReason


def test_every_action_round_trips_within_64_bytes_even_for_the_largest_id() -> None:
    for verb in Verb:
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
