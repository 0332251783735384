"""The statistics chart: reports, visits and deals per team, and the project's conversion funnel (PNG).

matplotlib is imported only when a chart is drawn (it costs half a second), and only its object API is
used (Figure + Agg canvas): no pyplot, no global figure state.
"""

from __future__ import annotations

import io
from typing import Any

from reportbot.documents.fonts import cjk_font_path
from reportbot.rules.stats import MEASURE_LABELS, Measure, Stats

BARS = (Measure.REPORTS, Measure.DUPLICATES, Measure.VISITS, Measure.EXPIRED, Measure.DEALS)
FUNNEL = (Measure.REPORTS, Measure.VISITS, Measure.DEALS)
COLOURS = {
    Measure.REPORTS: "#4C72B0",
    Measure.DUPLICATES: "#C44E52",
    Measure.VISITS: "#DD8452",
    Measure.EXPIRED: "#8C8C8C",
    Measure.DEALS: "#55A868",
}
EMPTY_TEXT = "本期暂无数据"
RATE_TEXTS = ("到访率", "成交率")
WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.4, 110


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def chart_texts(stats: Stats) -> list[str]:
    """Every label the chart writes (the tests check the font has a glyph for each character)."""
    teams = [block.total.team_label for block in stats.teams]
    return [*teams, *(MEASURE_LABELS[m] for m in (*BARS, *FUNNEL)), EMPTY_TEXT, *RATE_TEXTS]


def draw_chart(stats: Stats, title: str) -> Any:
    """The chart as a matplotlib Figure (on an Agg canvas); every text in the CJK font named by path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font = FontProperties(fname=str(cjk_font_path()))
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontproperties=font, fontsize=14)
    bars, funnel = figure.subplots(1, 2, width_ratios=(3, 1.4))
    _team_bars(bars, stats, font)
    _funnel(funnel, stats, font)
    return figure


def render_chart(stats: Stats, title: str) -> bytes:
    """A PNG of ``stats`` with ``title`` on top."""
    out = io.BytesIO()
    draw_chart(stats, title).savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _team_bars(ax: Any, stats: Stats, font: Any) -> None:
    teams = [block.total for block in stats.teams]
    if not teams:
        ax.text(0.5, 0.5, EMPTY_TEXT, ha="center", va="center", fontproperties=font, fontsize=14,
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    width = 0.8 / len(BARS)
    for i, measure in enumerate(BARS):
        xs = [t + (i - (len(BARS) - 1) / 2) * width for t in range(len(teams))]
        values = [line[measure] for line in teams]
        drawn = ax.bar(xs, values, width, label=MEASURE_LABELS[measure], color=COLOURS[measure])
        ax.bar_label(drawn, [str(v) if v else "" for v in values], fontproperties=font, fontsize=8, padding=1)
    ax.set_xticks(range(len(teams)), [line.team_label for line in teams])
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.margins(y=0.12)
    ax.legend(prop=font, ncols=len(BARS), loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _fonts(ax, font)


def _funnel(ax: Any, stats: Stats, font: Any) -> None:
    total = stats.total
    values = [total[m] for m in FUNNEL]
    ys = list(range(len(FUNNEL)))[::-1]
    drawn = ax.barh(ys, values, color=[COLOURS[m] for m in FUNNEL], height=0.6)
    ax.bar_label(drawn, fontproperties=font, fontsize=9, padding=2)
    ax.set_yticks(ys, [MEASURE_LABELS[m] for m in FUNNEL])
    ax.set_xticks([])
    ax.set_xlim(0, max(1, *values) * 1.3)
    ax.spines[["top", "right", "bottom"]].set_visible(False)
    rates = (f"{RATE_TEXTS[0]} {_percent(total.visit_rate)}", f"{RATE_TEXTS[1]} {_percent(total.deal_rate)}")
    ax.set_title("\n".join(rates), fontproperties=font, fontsize=11)
    _fonts(ax, font)


def _fonts(ax: Any, font: Any) -> None:
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontproperties(font)
