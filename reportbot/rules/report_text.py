"""The text of a report as the parser reads it: cleaned of invisible characters, and folded.

Two parallel strings of the same length are kept: the *clean* one (only invisible characters removed:
the customer's name stays as typed) and the *folded* one (each character NFKC-normalised on its own
when that gives one character: full-width digits, colons, parentheses, letters, the ideographic space;
an emoji, a pictograph or a bullet a space). Labels, colons and the header are found in the folded
text; a value is cut from whichever of the two its field needs, at the same positions.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from reportbot.rules.phone import MASK_CHARS

LINE_BREAKS = {"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n", "\t": " ", "\v": "\n", "\f": "\n"}
_DROPPED = ("Cc", "Cf", "Cs", "Co", "Cn")
_CACHED_CHARACTERS = 65_536  # per table: a message of random code points cannot make it grow without end
_BULLETS = "▪▫■□◆◇▶►▸▹→⇒★☆✓✔✅☑➤➢※♦◉○◎"


class _CharacterTable(dict[int, "str | None"]):
    """A ``str.translate`` table filled on first sight of each character: one C loop per message
    instead of a Python call per character (every message is cleaned and folded twice)."""

    def __init__(self, rule: Callable[[str], str | None]) -> None:
        super().__init__()
        self._rule = rule

    def __missing__(self, code: int) -> str | None:
        value = self._rule(chr(code))
        if len(self) < _CACHED_CHARACTERS:
            self[code] = value
        return value


def _clean_char(ch: str) -> str | None:
    ch = LINE_BREAKS.get(ch, ch)
    if ch != "\n" and unicodedata.category(ch) in _DROPPED:
        return None
    return ch


_CLEAN = _CharacterTable(_clean_char)


def clean(text: str) -> str:
    """Line breaks unified; zero-width, format and control characters removed."""
    return text.replace("\r\n", "\n").translate(_CLEAN)


def fold_char(ch: str) -> str:
    if ch in _BULLETS or (unicodedata.category(ch) == "So" and ch not in MASK_CHARS):
        return " "
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        return ch
    decimal = unicodedata.decimal(folded, None)
    return str(decimal) if decimal is not None else folded


_FOLD = _CharacterTable(fold_char)


def fold(text: str) -> str:
    return text.translate(_FOLD)


def normalise(value: str) -> str:
    """Trimmed, every run of whitespace (full-width spaces and line breaks too) one space."""
    return " ".join(value.split())
