"""Incoming text loses invisible control characters before any handler reads or stores it."""

from __future__ import annotations

from reportbot.rules.text import clean_text


def test_nul_bell_escape_bidi_overrides_and_bom_go_but_lines_tabs_and_emoji_joiners_stay() -> None:
    assert clean_text("张\x00\x07先生\x1b") == "张先生"
    assert clean_text("\ufeff\u202e张先生\u202c\u200f") == "张先生"
    assert clean_text("第一行\r\n第二行\r第三行\t完") == "第一行\n第二行\n第三行\t完"
    assert clean_text("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"
    assert clean_text("回访\ud800完成") == "回访完成"
