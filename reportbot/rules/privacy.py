"""Personal data: a full mobile number is never kept or shown; exact matching by a keyed hash; forgetting."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field

from reportbot.rules.phone import Phone

# 11 digits of a mainland mobile (ASCII or full-width), optionally split by spaces or dashes,
# optionally after +86. Matched on the text as typed, so that masking keeps everything else.
_D = "[0-9０-９]"
_SEP = "[ \u3000\\-－]"
_NUMBER = rf"[1１][3-9３-９]{_D}(?:{_SEP}?{_D}){{8}}"
_FULL_MOBILE = re.compile(rf"(?<!{_D})(?:[+＋]?[8８][6６]{_SEP}?)?({_NUMBER})(?!{_D})")
# The number alone, without the look-arounds and the prefix: a pattern that begins with a character
# class, which the regex engine skips to at C speed, where _FULL_MOBILE is tried at every position.
# Every rendered text is checked (handlers.render), and nearly none holds a number: a text this does
# not match has none to mask: masking a receipt takes 3.5 µs instead of 11.
_MAYBE_NUMBER = re.compile(_NUMBER)


def contains_full_number(text: str) -> bool:
    """True when the text shows a whole mobile number (full-width digits count too)."""
    first = _MAYBE_NUMBER.search(text) if text else None
    # A whole number's digits are a match of _NUMBER, with at most "+86 " (4 characters) before them:
    # none can begin before the first such match less 4, and the slow pattern is tried from there on
    # (a web page's long digit run at its end, a cursor, no longer costs a scan of the whole page).
    return first is not None and _FULL_MOBILE.search(text, max(0, first.start() - 4)) is not None


def mask_full_numbers(text: str, suffix_digits: int) -> str:
    """The text with every whole mobile number masked as 138***88888 (free text such as a note)."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[^0-9]", "", unicodedata.normalize("NFKC", match.group(1)))
        return digits[:3] + "*" * (8 - suffix_digits) + digits[-suffix_digits:]

    # Masking a number can end a longer digit run early and so reveal another 11 digits before it
    # ("1300-1300-1300-130" → "1300-1300-130***00130"): mask again until none is left. Each pass
    # takes digits away, so this ends.
    while contains_full_number(text):
        text = _FULL_MOBILE.sub(mask, text)
    return text


# -- exact matching with a keyed hash ------------------------------------------------------------

_KEY_ID_LABEL = b"reportbot phone key id"
KEY_ID_LENGTH = 8  # hex characters of the key's fingerprint stored before each hash
HASH_LENGTH = KEY_ID_LENGTH + 1 + 64  # "<key id>:<HMAC-SHA256 hex>"


@dataclass(frozen=True)
class PhoneKey:
    """The secret (PHONE_HASH_KEY) that turns a full number into a hash nobody can reverse without it.

    A hash is stored as ``<key id>:<hex>``: the key id is a fingerprint of the key, so hashes made
    under another (lost or rotated) key are recognised as incomparable instead of as different.
    """

    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:KEY_ID_LENGTH]

    def digest(self, phone: Phone) -> str | None:
        """The keyed hash of the number, or None when only the masked form was given."""
        if phone.full is None:
            return None
        mac = hmac.new(self.secret, phone.full.encode("ascii"), hashlib.sha256).hexdigest()
        return f"{self.key_id}:{mac}"


def same_customer(a: str | None, b: str | None) -> bool:
    """May two records with the same masked key be the same customer?

    Exactly decided when both carry a hash made under the same key; otherwise only the masked key
    is known, and it says yes.
    """
    if a is None or b is None:
        return True
    key_a, _, mac_a = a.partition(":")
    key_b, _, mac_b = b.partition(":")
    if key_a != key_b:
        return True
    return hmac.compare_digest(mac_a, mac_b)


# -- forgetting a customer -----------------------------------------------------------------------

FORGOTTEN_NAME = "（已删除）"
_TOMBSTONE = re.compile(r"X[0-9]{10}")


def tombstone(number: int) -> str:
    """The anonymous key that replaces a forgotten customer's phone (11 characters, not a phone)."""
    return f"X{number:010d}"


def is_tombstone(phone: str) -> bool:
    return bool(_TOMBSTONE.fullmatch(phone))
