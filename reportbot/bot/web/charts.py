"""Charts drawn in the page: plain SVG strings, Chinese labels as text (the browser's fonts draw them).

Every label is escaped here (a team's name is typed by people); the template inserts the SVG as it is.
No script, no library: the page stays fast on a phone and works without JavaScript.
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

COLOURS = ("#2f6fde", "#1f9d6a", "#e08a1e", "#b04fd0")
WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 40, 34, 34, 46


def _frame(title: str, series: list[str], top: int) -> list[str]:
    opening = (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}"'
               ' xmlns="http://www.w3.org/2000/svg">')
    parts = [opening, f'<text class="title" x="{LEFT}" y="20">{escape(title)}</text>']
    for i, name in enumerate(series):
        x = WIDTH - RIGHT - 90 * (len(series) - i)
        parts.append(f'<rect x="{x}" y="10" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>')
        parts.append(f'<text class="legend" x="{x + 16}" y="21">{escape(name)}</text>')
    plot = HEIGHT - TOP - BOTTOM
    for step in range(5):
        value = top * step // 4
        y = HEIGHT - BOTTOM - plot * step / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')
    return parts


def _top(groups: list[tuple[str, list[int]]]) -> int:
    highest = max((v for _, values in groups for v in values), default=0)
    return max(4, -(-highest // 4) * 4)


def bar_chart(groups: list[tuple[str, list[int]]], series: list[str], *, title: str) -> Markup:
    """Grouped bars: one group per label (a team), one bar per series (报备, 到访, 成交)."""
    top = _top(groups)
    parts = _frame(title, series, top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(groups))
    bar = min(28.0, slot * 0.8 / max(1, len(series)))
    for g, (label, values) in enumerate(groups):
        x0 = LEFT + g * slot + (slot - bar * len(values)) / 2
        for i, value in enumerate(values):
            h = plot_h * value / top
            x, y = x0 + i * bar, HEIGHT - BOTTOM - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(label)} {escape(series[i])} {value}</title></rect>')
            if value:
                parts.append(f'<text class="value" x="{x + bar / 2 - 1:.1f}" y="{y - 3:.1f}" text-anchor="middle">{value}</text>')
        parts.append(f'<text class="label" x="{LEFT + g * slot + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 18}" '
                     f'text-anchor="middle">{escape(label[:8])}</text>')
    if not groups:
        parts.append(f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">这段时间没有记录</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # built here, every label escaped above


def line_chart(points: list[tuple[str, list[int]]], series: list[str], *, title: str) -> Markup:
    """A trend: one line per series over the labels (weeks, months)."""
    top = _top(points)
    parts = _frame(title, series, top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(points) - 1)
    for i in range(len(series)):
        xy = [(LEFT + n * step, HEIGHT - BOTTOM - plot_h * values[i] / top) for n, (_, values) in enumerate(points)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        parts.append(f'<polyline fill="none" stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="2.5" points="{path}"/>')
        for (x, y), (label, values) in zip(xy, points, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{COLOURS[i % len(COLOURS)]}">'
                         f'<title>{escape(label)} {escape(series[i])} {values[i]}</title></circle>')
    for n, (label, _) in enumerate(points):
        parts.append(f'<text class="label" x="{LEFT + n * step:.1f}" y="{HEIGHT - BOTTOM + 18}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # built here, every label escaped above
