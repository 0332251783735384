"""Personal data: spotting a full mobile number that must not be kept or shown."""

from __future__ import annotations

import re
import unicodedata

# 11 digits of a mainland mobile, optionally split by spaces or dashes, optionally after +86.
_FULL_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])")


def contains_full_number(text: str) -> bool:
    """True when the text shows a whole mobile number (full-width digits count too)."""
    return bool(_FULL_MOBILE.search(unicodedata.normalize("NFKC", text or "")))
