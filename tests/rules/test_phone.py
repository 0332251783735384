"""SPEC §3, the customer's phone: masked, canonical, never stored in full."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportbot.rules.phone import Phone, looks_like_phone, mask_example, parse_phone
from reportbot.rules.refusal import Field, Refusal

TEMPLATES = Path(__file__).resolve().parents[2] / "reportbot" / "templates" / "refusals"


def masked(raw: str, suffix_digits: int = 5) -> str:
    result = parse_phone(raw, suffix_digits)
    assert isinstance(result, Phone), result
    return result.masked


def refusal(raw: str, suffix_digits: int = 5) -> Refusal:
    result = parse_phone(raw, suffix_digits)
    assert isinstance(result, Refusal), result
    assert result.field is Field.PHONE
    return result


# -- the canonical form ----------------------------------------------------------------------------


def test_the_seed_example_is_already_canonical():
    assert parse_phone("138***88888", 5) == Phone("138***88888", was_full=False)


def test_the_canonical_form_is_prefix_stars_and_suffix_eleven_characters():
    assert len(masked("139*12345")) == 11
    assert masked("139*12345") == "139***12345"


@pytest.mark.parametrize("mask", ["*", "＊", "x", "X", "×", "•", "●"])
def test_each_mask_character_is_accepted(mask):
    assert masked(f"138{mask * 3}88888") == "138***88888"


def test_mask_characters_may_be_mixed():
    assert masked("138*xX88888") == "138***88888"


def test_full_width_digits_are_accepted():
    assert masked("１３８＊＊＊８８８８８") == "138***88888"


@pytest.mark.parametrize("raw", ["138 **** 88888", "138-***-88888", "138 - *** - 88888", "138　***　88888"])
def test_spaces_or_dashes_between_digit_groups_are_accepted(raw):
    assert masked(raw) == "138***88888"


@pytest.mark.parametrize(
    "raw", ["138*88888", "138**88888", "138***88888", "138******88888", "138" + "*" * 30 + "88888"]
)
def test_the_number_of_mask_characters_is_not_significant(raw):
    assert masked(raw) == "138***88888"


def test_surrounding_whitespace_and_invisible_characters_are_ignored():
    assert masked("  \u200b138***88888\ufeff ") == "138***88888"


def test_a_country_code_before_a_masked_number_is_dropped():
    assert masked("+86 138***88888") == "138***88888"


# -- full numbers ----------------------------------------------------------------------------------


def test_a_full_number_is_masked_and_flagged():
    assert parse_phone("13812388888", 5) == Phone("138***88888", was_full=True)


@pytest.mark.parametrize(
    "raw",
    ["138 1238 8888", "138-1238-8888", "+86 138 1238 8888", "+8613812388888", "8613812388888", "１３８１２３８８８８８"],
)
def test_a_full_number_in_any_spelling_is_masked_and_flagged(raw):
    assert parse_phone(raw, 5) == Phone("138***88888", was_full=True)


def test_a_masked_number_whose_mask_hides_nothing_counts_as_full():
    assert parse_phone("138*12388888", 5) == Phone("138***88888", was_full=True)


def test_a_full_number_of_the_wrong_length_is_refused_with_its_length():
    assert refusal("1381238888") == Refusal.of(Field.PHONE, "phone_length", got=10)
    assert refusal("138123888889") == Refusal.of(Field.PHONE, "phone_length", got=12)


def test_a_full_number_with_a_wrong_prefix_is_refused():
    assert refusal("12012388888") == Refusal.of(Field.PHONE, "phone_prefix", prefix="120")


# -- prefix and suffix -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["130", "145", "150", "166", "177", "188", "199"])
def test_every_mainland_mobile_prefix_is_accepted(prefix):
    assert masked(f"{prefix}***88888").startswith(prefix)


@pytest.mark.parametrize("prefix", ["120", "110", "238", "010", "000"])
def test_a_prefix_that_is_not_a_mainland_mobile_is_refused(prefix):
    assert refusal(f"{prefix}***88888") == Refusal.of(Field.PHONE, "phone_prefix", prefix=prefix)


def test_fewer_than_three_leading_digits_are_refused():
    expected = Refusal.of(Field.PHONE, "phone_prefix_short", got=2, example="138***88888")
    assert refusal("13***88888") == expected
    assert refusal("***88888").code == "phone_prefix_short"


def test_more_leading_digits_keep_the_first_three():
    assert masked("1381*88888") == "138***88888"


def test_suffix_policy_5_needs_five_trailing_digits():
    assert refusal("138****8888") == Refusal.of(Field.PHONE, "phone_suffix_short", need=5, got=4)
    assert refusal("138****").params == {"need": "5", "got": "0"}


def test_suffix_policy_4_accepts_four_trailing_digits():
    assert parse_phone("138****8888", 4) == Phone("138****8888", was_full=False)


def test_suffix_policy_4_keeps_the_last_four_of_five_shown():
    assert masked("138***88885", 4) == "138****8885"


def test_suffix_policy_4_masks_a_full_number_to_four_digits():
    assert parse_phone("13812388885", 4) == Phone("138****8885", was_full=True)


def test_more_trailing_digits_than_the_policy_keep_the_last_ones():
    assert masked("138*1288888") == "138***88888"


def test_too_many_visible_digits_are_refused_with_the_count():
    assert refusal("138*123488888") == Refusal.of(Field.PHONE, "phone_length", got=12)


def test_the_example_follows_the_suffix_policy():
    assert mask_example(5) == "138***88888"
    assert mask_example(4) == "138****8888"


# -- malformed -------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\u200b"])
def test_a_missing_phone_is_refused(raw):
    assert refusal(raw) == Refusal.of(Field.PHONE, "phone_missing", example="138***88888")


@pytest.mark.parametrize("raw", ["abc", "138***8888a", "138**88**888", "电话", "xxx", "138/***/88888"])
def test_letters_or_a_broken_shape_are_refused_as_format(raw):
    assert refusal(raw).code == "phone_format"


def test_the_format_refusal_echoes_the_text_and_an_example():
    assert refusal("138***8888a").params == {"text": "138***8888a", "example": "138***88888"}


def test_the_format_refusal_never_echoes_a_full_number():
    text = refusal("13812388888abc").params["text"]
    assert "1238" not in text
    assert text.startswith("138") and "8888abc" in text


def test_a_policy_outside_one_to_eight_digits_is_a_programming_error():
    with pytest.raises(ValueError):
        parse_phone("138***88888", 0)


# -- looks_like_phone (for /who) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "138***88888", "138****8888", "138 **** 88888", "13812388888", "+86 138 1238 8888", "１３８＊８８８８８",
        "138x88888",
    ],
)
def test_masked_or_full_numbers_look_like_phones(raw):
    assert looks_like_phone(raw)


@pytest.mark.parametrize("raw", ["张先生", "BB-20261123-0007", "Xu", "xxx", "88", "", "138", "李四 138"])
def test_names_receipts_and_short_numbers_do_not_look_like_phones(raw):
    assert not looks_like_phone(raw)


# -- properties ------------------------------------------------------------------------------------

phone_like = st.text(alphabet="0123456789１３８*＊xX×•+- 　\u200b", max_size=40)


@given(st.one_of(st.text(max_size=600), phone_like), st.integers(min_value=1, max_value=8))
def test_parse_phone_never_raises_and_refusals_have_templates(raw, suffix_digits):
    result = parse_phone(raw, suffix_digits)
    if isinstance(result, Phone):
        assert len(result.masked) == 11
        assert result.masked[:3].isdigit() and result.masked[-suffix_digits:].isdigit()
        assert result.masked.count("*") == 8 - suffix_digits
    else:
        assert result.field is Field.PHONE
        assert (TEMPLATES / f"{result.code}.j2").is_file(), result.code


@given(st.text(max_size=600))
def test_looks_like_phone_never_raises(raw):
    assert looks_like_phone(raw) in (True, False)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True), st.integers(min_value=1, max_value=8))
def test_any_full_mobile_number_is_masked_and_never_kept(number, suffix_digits):
    phone = parse_phone(number, suffix_digits)
    assert isinstance(phone, Phone) and phone.was_full
    assert phone.masked == number[:3] + "*" * (8 - suffix_digits) + number[-suffix_digits:]
