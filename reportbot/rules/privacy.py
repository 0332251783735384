"""Personal data: spotting and masking a full mobile number, which must never be kept or shown."""

from __future__ import annotations

import re
import unicodedata

# 11 digits of a mainland mobile (ASCII or full-width), optionally split by spaces or dashes,
# optionally after +86. Matched on the text as typed, so that masking keeps everything else.
_D = "[0-9０-９]"
_SEP = "[ \u3000\\-－]"
_FULL_MOBILE = re.compile(
    rf"(?<!{_D})(?:[+＋]?[8８][6６]{_SEP}?)?([1１][3-9３-９]{_D}(?:{_SEP}?{_D}){{8}})(?!{_D})"
)


def contains_full_number(text: str) -> bool:
    """True when the text shows a whole mobile number (full-width digits count too)."""
    return bool(_FULL_MOBILE.search(text or ""))


def mask_full_numbers(text: str, suffix_digits: int) -> str:
    """The text with every whole mobile number masked as 138***88888 (free text such as a note)."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", match.group(1)))
        return digits[:3] + "*" * (8 - suffix_digits) + digits[-suffix_digits:]

    return _FULL_MOBILE.sub(mask, text)
