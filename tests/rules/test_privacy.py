"""A full mobile number is recognised in any spelling, masked in free text, and hashed with a key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportbot.rules.phone import Phone, parse_phone
from reportbot.rules.privacy import (
    _FULL_MOBILE,
    HASH_LENGTH,
    PhoneKey,
    contains_full_number,
    is_tombstone,
    mask_full_numbers,
    same_customer,
    tombstone,
)
from tests.fuzz import fuzz_settings, hostile_text


@pytest.mark.parametrize("text", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678", "１３８１２３４５６７８", "电话13812345678谢谢"])
def test_a_full_number_is_seen_however_it_is_written(text: str) -> None:
    assert contains_full_number(text)


@pytest.mark.parametrize("text", ["138***88888", "2026-11-25 15:30", "138123456789", "12812345678", "下周二 14:00"])
def test_masked_numbers_dates_and_longer_digit_runs_are_not_full_numbers(text: str) -> None:
    assert not contains_full_number(text)


def test_masking_leaves_no_whole_number_even_where_masking_one_reveals_another() -> None:
    masked = mask_full_numbers("-1300-1300-1300-1300-1300-130", 5)
    assert not contains_full_number(masked) and masked.startswith("-1300-")


def test_a_note_keeps_its_words_and_loses_the_middle_digits() -> None:
    assert mask_full_numbers("老婆电话 139 1234 5678，晚上打", 5) == "老婆电话 139***45678，晚上打"
    assert mask_full_numbers("带父母来", 5) == "带父母来"


KEY = PhoneKey(b"one key for the tests")
OTHER_KEY = PhoneKey(b"another key, e.g. after a rotation")


def full(number: str) -> Phone:
    phone = parse_phone(number, 5)
    assert isinstance(phone, Phone)
    return phone


def test_the_keyed_hash_is_the_same_for_every_spelling_of_a_number_and_shows_no_digits_of_it() -> None:
    digest = KEY.digest(full("13812388888"))
    assert digest is not None and digest == KEY.digest(full("+86 138-1238-8888")) == KEY.digest(full("１３８１２３８８８８８"))
    assert "13812388888" not in digest and len(digest) == HASH_LENGTH
    assert KEY.digest(full("13899988888")) != digest


def test_a_masked_number_has_no_hash_and_the_key_never_shows_in_a_repr() -> None:
    assert KEY.digest(full("138***88888")) is None
    assert "one key" not in repr(KEY) and "13812388888" not in repr(full("13812388888"))


def test_hashes_are_compared_only_under_the_same_key_otherwise_the_masked_key_decides() -> None:
    alice, bob = KEY.digest(full("13812388888")), KEY.digest(full("13899988888"))
    assert same_customer(alice, alice) and not same_customer(alice, bob)
    assert same_customer(alice, None) and same_customer(None, bob) and same_customer(None, None)
    assert same_customer(alice, OTHER_KEY.digest(full("13899988888")))  # another key: not comparable


def test_a_tombstone_is_eleven_characters_and_never_a_phone() -> None:
    stone = tombstone(42)
    assert stone == "X0000000042" and len(stone) == 11 and is_tombstone(stone)
    assert not is_tombstone("138***88888") and not contains_full_number(stone)


DIGITISH = st.text(alphabet="0123456789１３８６+＋ -－\u3000*x电话", max_size=60)


@pytest.mark.fuzz
@fuzz_settings(default=500)
@given(text=st.one_of(DIGITISH, hostile_text()))
def test_the_search_from_the_first_candidate_finds_what_a_search_of_the_whole_text_finds(text: str) -> None:
    """contains_full_number begins the slow search at the first possible number, not at the text's start."""
    assert contains_full_number(text) == (_FULL_MOBILE.search(text) is not None)
