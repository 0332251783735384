"""What every benchmark section shares: timing, statistics and the row of the results table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    """The median of several repetitions with their min and max."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        return cls(statistics.median(values), min(values), max(values))

    def show(self, digits: int = 1) -> str:
        return f"{self.median:,.{digits}f} ({self.low:,.{digits}f}–{self.high:,.{digits}f})"


@dataclass(frozen=True)
class Row:
    """One line of the results table: a figure beside the floor/ceiling it is judged against."""

    section: str
    figure: str
    value: Stat | None
    unit: str
    reference: str = ""
    reference_value: Stat | None = None
    goal: str = ""
    note: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.reference_value is None or not self.reference_value.median:
            return None
        return self.value.median / self.reference_value.median


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0–100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def timed_calls(call: Callable[[int], Awaitable[object]], count: int) -> tuple[float, list[float]]:
    """Run call(0..count-1) one after another: (calls per second, per-call latencies in ms)."""
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        await call(i)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    return count / elapsed, latencies


def table(rows: Sequence[Row]) -> str:
    """The Markdown table that `python -m bench` prints and bench/RESULTS.md keeps."""
    lines = [
        "| section | figure | value (median, min–max) | unit | floor / ceiling (same run) | ratio | goal | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = r.value.show() if r.value else "—"
        ref = f"{r.reference}: {r.reference_value.show()}" if r.reference_value else r.reference
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        lines.append(f"| {r.section} | {r.figure} | {value} | {r.unit} | {ref} | {ratio} | {r.goal} | {r.note} |")
    return "\n".join(lines)
