"""The statistics chart: a real PNG, and every Chinese label drawn with glyphs of the named CJK font, no tofu."""

from __future__ import annotations

import io
import warnings
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text
from PIL import Image

from reportbot.documents.chart import chart_texts, draw_chart, render_chart
from reportbot.documents.fonts import cjk_font_path
from reportbot.rules.stats import Fact, Measure, Stats, aggregate, parse_period

TITLE = "森林半岛 本周统计（11-23—11-29）"
NOW = datetime(2026, 11, 29, 20, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def week() -> Stats:
    period = parse_period("week", NOW)
    assert not isinstance(period, str)
    facts = (
        [Fact(Measure.REPORTS, "飞虎队", 1, "李四")] * 5 + [Fact(Measure.VISITS, "飞虎队", 1, "李四")] * 2
        + [Fact(Measure.DEALS, "飞虎队", 1, "李四")] + [Fact(Measure.REPORTS, "猛虎队", 3, "王五")] * 3
        + [Fact(Measure.DUPLICATES, "猛虎队", 3, "王五")] * 2 + [Fact(Measure.VISITS, None, None, None)]
    )
    return aggregate(facts, period)


def glyph(font_file: Path | str, char: str) -> np.ndarray:
    """The bitmap FreeType draws for one character at 48 px (a missing glyph: .notdef, the same for all)."""
    font = FT2Font(str(font_file))
    font.set_size(48, 72)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # matplotlib warns about the glyphs DejaVu lacks: that is the point
        font.set_text(char)
    font.draw_glyphs_to_bitmap()
    return np.asarray(font.get_image()).copy()


def labels(stats: Stats) -> str:
    return "".join(sorted({ch for text in [*chart_texts(stats), TITLE] for ch in text if ord(ch) > 0x2E7F}))


def test_the_chart_is_a_real_png_of_the_expected_size() -> None:
    png = render_chart(week(), TITLE)
    image = Image.open(io.BytesIO(png))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and image.format == "PNG"
    assert image.size == (1100, 594) and len(png) > 15_000
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # bars, text and antialiasing, not a blank canvas


def test_the_cjk_font_is_installed_and_has_a_glyph_for_every_chinese_character_of_the_chart() -> None:
    path = cjk_font_path()
    assert path.is_file() and path.name == "NotoSansCJKsc-Regular.otf"
    cmap = TTFont(path, fontNumber=0, lazy=True).getBestCmap()
    chinese = labels(week())
    assert len(chinese) > 20 and [ch for ch in chinese if ord(ch) not in cmap] == []


def test_chinese_labels_render_as_distinct_glyphs_not_tofu() -> None:
    chinese = labels(week())
    ours = {ch: glyph(cjk_font_path(), ch) for ch in chinese}
    assert all(bitmap.sum() > 0 for bitmap in ours.values())  # something is drawn for every character
    distinct = {bitmap.tobytes() for bitmap in ours.values()}
    assert len(distinct) == len(chinese)  # tofu would draw one box for all of them
    # The check itself sees tofu: a Latin-only font draws 报 and 访 alike (matplotlib's bundled DejaVu Sans).
    latin_only = findfont(FontProperties(family="DejaVu Sans"))
    assert np.array_equal(glyph(latin_only, "报"), glyph(latin_only, "访"))
    assert not np.array_equal(glyph(latin_only, "报"), ours["报"])


def test_every_text_of_the_chart_is_set_in_the_named_font_and_nothing_is_missing() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = draw_chart(week(), TITLE)
        figure.savefig(io.BytesIO(), format="png")
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []
    texts = [t for t in figure.findobj(Text) if t.get_visible() and any(ord(ch) > 0x2E7F for ch in t.get_text())]
    assert {t.get_text() for t in texts} >= {TITLE, "飞虎队", "猛虎队", "案场（自然来访）", "报备", "到访", "成交"}
    assert {Path(t.get_fontproperties().get_file()) for t in texts} == {cjk_font_path()}


def test_an_empty_period_still_draws_a_chart_that_says_so() -> None:
    period = parse_period("today", NOW)
    assert not isinstance(period, str)
    figure = draw_chart(aggregate([], period), "森林半岛 今天统计（2026-11-29）")
    assert "本期暂无数据" in [t.get_text() for t in figure.findobj(Text)]
    assert render_chart(aggregate([], period), "今天").startswith(b"\x89PNG")


@pytest.mark.parametrize("team", ["飞虎队", "猛虎队"])
def test_the_bars_show_the_counts(team: str) -> None:
    stats = week()
    figure = draw_chart(stats, TITLE)
    shown = {t.get_text() for t in figure.findobj(Text)}
    block = next(b for b in stats.teams if b.total.team == team)
    assert str(block.total[Measure.REPORTS]) in shown and team in shown
