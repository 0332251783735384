"""A full mobile number is recognised in any spelling and masked in free text."""

from __future__ import annotations

import pytest

from reportbot.rules.privacy import contains_full_number, mask_full_numbers


@pytest.mark.parametrize("text", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678", "１３８１２３４５６７８", "电话13812345678谢谢"])
def test_a_full_number_is_seen_however_it_is_written(text: str) -> None:
    assert contains_full_number(text)


@pytest.mark.parametrize("text", ["138***88888", "2026-11-25 15:30", "138123456789", "12812345678", "下周二 14:00"])
def test_masked_numbers_dates_and_longer_digit_runs_are_not_full_numbers(text: str) -> None:
    assert not contains_full_number(text)


def test_a_note_keeps_its_words_and_loses_the_middle_digits() -> None:
    assert mask_full_numbers("老婆电话 139 1234 5678，晚上打", 5) == "老婆电话 139***45678，晚上打"
    assert mask_full_numbers("带父母来", 5) == "带父母来"
