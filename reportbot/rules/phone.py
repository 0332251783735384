"""The customer's phone, masked (SPEC §3).

A report carries the customer's mobile *masked*: the first 3 digits and the last
``mask_suffix_digits`` digits visible, the middle hidden — ``138***88888``. Canvassers type it in
many ways (``138 **** 88888``, ``138-xxx-88888``, ``１３８＊８８８８８``, ``13812345678``); this module
reduces every acceptable spelling to one canonical form, 11 characters::

    prefix (3 digits) + '*' * (8 - suffix_digits) + suffix (suffix_digits digits)

A full 11-digit number is accepted too, but only to be masked at once: ``was_full`` tells the
caller that the original message holds a full number (never to be stored or echoed).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from reportbot.rules.refusal import Field, Refusal

PHONE_LENGTH = 11
PREFIX_DIGITS = 3

# Characters that stand for a hidden digit. '＊' (full width) becomes '*' under NFKC.
MASK_CHARS = "*xX×•●"
# Characters allowed between digit groups, dropped before reading the number.
SEPARATORS = "-–—‐‑ \t"

_MOBILE_PREFIX = re.compile(r"1[3-9][0-9]")
# After separators are dropped: optional country code, visible prefix, one run of mask
# characters, visible suffix. A masked number is one "digits, mask, digits" shape.
_MASKED = re.compile(rf"([0-9]*)[{re.escape(MASK_CHARS)}]+([0-9]*)")
_COUNTRY_CODE = re.compile(r"\+?86(?=1)")
_PHONE_ALPHABET = re.compile(rf"\+?[0-9{re.escape(MASK_CHARS)}{re.escape(SEPARATORS)}]+")


@dataclass(frozen=True)
class Phone:
    """A customer's phone in canonical masked form, e.g. ``138***88888``."""

    masked: str
    was_full: bool  # the input was a full 11-digit number: never store or echo the original
    # The whole number, only while the message is handled: the keyed hash is made from it
    # (rules.privacy.PhoneKey). Never printed, never compared, never stored.
    full: str | None = field(default=None, repr=False, compare=False)


def parse_phone(raw: str, suffix_digits: int) -> Phone | Refusal:
    """Read a masked or full mainland mobile number; refuse with a code saying what is wrong."""
    if not 1 <= suffix_digits <= PHONE_LENGTH - PREFIX_DIGITS:
        raise ValueError(f"suffix_digits must be 1..8, not {suffix_digits}")
    text = _clean(raw)
    if not text:
        return Refusal.of(Field.PHONE, "phone_missing", example=mask_example(suffix_digits))
    compact = "".join(ch for ch in text if ch not in SEPARATORS)
    compact = _drop_country_code(compact)

    if compact.isascii() and compact.isdigit():
        return _full_number(compact, suffix_digits)

    masked = _MASKED.fullmatch(compact)
    if masked is None or not any(ch.isdigit() for ch in compact):
        return _format_refusal(text, suffix_digits)
    prefix, suffix = masked.groups()
    if len(prefix) + len(suffix) >= PHONE_LENGTH:
        if len(prefix) + len(suffix) == PHONE_LENGTH:
            # Every digit is visible: the "mask" hides nothing, so this is a full number.
            return _full_number(prefix + suffix, suffix_digits)
        return Refusal.of(Field.PHONE, "phone_length", got=len(prefix) + len(suffix))
    if len(prefix) < PREFIX_DIGITS:
        example = mask_example(suffix_digits)
        return Refusal.of(Field.PHONE, "phone_prefix_short", got=len(prefix), example=example)
    if not _MOBILE_PREFIX.fullmatch(prefix[:PREFIX_DIGITS]):
        return Refusal.of(Field.PHONE, "phone_prefix", prefix=prefix[:PREFIX_DIGITS])
    if len(suffix) < suffix_digits:
        return Refusal.of(Field.PHONE, "phone_suffix_short", need=suffix_digits, got=len(suffix))
    return Phone(_canonical(prefix, suffix, suffix_digits), was_full=False)


def looks_like_phone(raw: str) -> bool:
    """Is this string (e.g. a ``/who`` argument) meant as a phone number, masked or full?

    Yes when it is written only with digits, mask characters and separators (``+86`` allowed)
    and shows either at least 7 digits, or a mask together with at least 3 digits.
    Receipt numbers (``BB-…``) and names are not phones.
    """
    text = _clean(raw)
    if not _PHONE_ALPHABET.fullmatch(text):
        return False
    digits = sum(ch.isdigit() for ch in text)
    has_mask = any(ch in MASK_CHARS for ch in text)
    return digits >= 7 or (has_mask and digits >= PREFIX_DIGITS)


def mask_example(suffix_digits: int) -> str:
    """The example masked number shown in messages, for the policy's suffix length."""
    return _canonical("138", "8" * suffix_digits, suffix_digits)


# -- helpers -------------------------------------------------------------------------------------


def _clean(raw: str) -> str:
    """NFKC (full-width digits, '＊'), any decimal digit as ASCII, no format/control characters."""
    text = unicodedata.normalize("NFKC", raw)
    kept = []
    for ch in text:
        if unicodedata.category(ch) in ("Cf", "Cc") and ch not in " \t":
            continue
        decimal = unicodedata.decimal(ch, None)
        kept.append(str(decimal) if decimal is not None else ch)
    return "".join(kept).strip()


def _drop_country_code(compact: str) -> str:
    """``+8613812345678`` / ``8613812345678`` / ``+86138***88888`` → without the 86."""
    match = _COUNTRY_CODE.match(compact)
    if match is None:
        return compact
    rest = compact[match.end() :]
    if compact.startswith("+"):
        return rest
    # A bare "86" is only a country code when what follows is a whole mobile number or a masked
    # one; "86..." could otherwise be the start of a (wrong) number the canvasser should see.
    if (rest.isdigit() and len(rest) == PHONE_LENGTH) or _MASKED.fullmatch(rest):
        return rest
    return compact


def _full_number(digits: str, suffix_digits: int) -> Phone | Refusal:
    if len(digits) != PHONE_LENGTH:
        return Refusal.of(Field.PHONE, "phone_length", got=len(digits))
    if not _MOBILE_PREFIX.fullmatch(digits[:PREFIX_DIGITS]):
        return Refusal.of(Field.PHONE, "phone_prefix", prefix=digits[:PREFIX_DIGITS])
    return Phone(_canonical(digits[:PREFIX_DIGITS], digits, suffix_digits), was_full=True, full=digits)


def _canonical(prefix: str, suffix: str, suffix_digits: int) -> str:
    hidden = PHONE_LENGTH - PREFIX_DIGITS - suffix_digits
    return prefix[:PREFIX_DIGITS] + "*" * hidden + suffix[-suffix_digits:]


def _format_refusal(text: str, suffix_digits: int) -> Refusal:
    return Refusal.of(Field.PHONE, "phone_format", text=_redact(text), example=mask_example(suffix_digits))


def _redact(text: str, limit: int = 30) -> str:
    """The text as typed, safe to echo: never more than the first 3 and last 4 of its digits."""
    if len(text) > limit:
        text = text[:limit] + "…"
    positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(positions) <= 7:
        return text
    hide = set(positions[PREFIX_DIGITS:-4])
    return "".join("*" if i in hide else ch for i, ch in enumerate(text))
