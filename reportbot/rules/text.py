"""Incoming text as the bot will read and store it: no invisible control characters (SPEC §3, issue 4 §7)."""

from __future__ import annotations

import unicodedata

# Joiners hold emoji sequences and some scripts together; every other format character (bidi
# overrides such as U+202E that make a name read backwards, BOMs, zero-width spaces) goes.
_KEPT_FORMAT = {"\u200c", "\u200d"}
# Spaces (Zs) and the kept control characters: not "printable" to str.isprintable, and all kept.
_SPACES = str.maketrans("", "", "\n\t \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                               "\u2009\u200a\u202f\u205f\u3000")


def clean_text(text: str) -> str:
    """The text without control characters (line breaks and tabs kept), lone surrogates or bidi tricks.

    PostgreSQL cannot store NUL, SQLite stores it silently, and a right-to-left override in a
    customer's name would show another name on the card: neither reaches the handlers.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Nearly every message has nothing to drop: what isprintable() accepts holds no Cc, Cf or Cs.
    if text.translate(_SPACES).isprintable():
        return text
    return "".join(ch for ch in text if _kept(ch))


def _kept(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cc":
        return ch in "\n\t"
    if category == "Cf":
        return ch in _KEPT_FORMAT
    return category != "Cs"
