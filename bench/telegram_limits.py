"""Telegram limits: receipt latency under the production rate limiter, and the pace of the group's cards.

Reports spread evenly over a time into one project through our bot with transport.build's limiter (30/s
overall, 20 a minute per group): each report's receipt latency (send → receipt at the emulator) and when
the last group card arrived, beside aiolimiter's leaky-bucket model of 20 a minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import Row, Stat, percentile
from bench.telegram_bot import BotSpec, bot_on_emulator, serve_command
from bench.telegram_office import Databases, Office, burst


@dataclass(frozen=True)
class UnderLimits:
    p50: float
    p99: float
    max: float
    last_card: float
    cards: int


def group_rate_model(sent: Sequence[float], rate: float = 20, period: float = 60) -> float:
    """When the last card may leave under aiolimiter's leaky bucket of rate per period, cards made at sent."""
    level, clock = 0.0, sent[0]
    for t in sorted(sent):
        level = max(0.0, level - (t - clock) * rate / period)
        clock = t
        if level + 1 > rate:
            wait = (level + 1 - rate) * period / rate
            clock, level = clock + wait, rate - 1.0
        level += 1
    return clock - sent[0]


async def limits_run(
    office: Office, reports: int, seconds: float, databases: Databases, log: Path
) -> tuple[UnderLimits, float]:
    """Reports spread evenly over seconds through the production bot; receipt latencies and the cards' pace."""
    spec = BotSpec("reportbot", production_limiter=True, db_url=await databases.fresh())
    messages = [office.report(n) for n in range(reports)]
    private, group = [p.user_id for p in office.people], office.groups
    async with bot_on_emulator(serve_command(spec), log) as session:
        sent = await burst(session.people, messages, spacing=seconds / reports)
        await session.people.wait(private, reports, timeout=60)
        cards = await session.people.wait(group, reports, timeout=seconds + reports * 3 + 120, every=1.0)
    latencies = [_receipt_time(cards.all(private), n) - sent[n] for n in range(reports)]
    card_times = [t for t, _ in cards.all(group)]
    last = max(card_times) - min(sent) if card_times else float("nan")
    phones = {
        f"138***{n:05d}" for n in range(reports) if any(f"138***{n:05d}" in x for _, x in cards.all(group))
    }
    result = UnderLimits(
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        max(latencies) * 1000,
        last,
        len(phones),
    )
    return result, group_rate_model(sent)


def _receipt_time(received: list[tuple[float, str]], n: int) -> float:
    phone = f"138***{n:05d}"
    return next((t for t, text in received if phone in text and "回执号" in text), float("inf"))


async def limits_rows(long: bool, root: Path) -> list[Row]:
    """100 reports in a minute (long mode) or 30 in 20 s (default) into one project, production limiter."""
    reports, seconds, repetitions = (100, 60.0, 3) if long else (30, 20.0, 2)
    office = Office.of(projects=1, canvassers=20)
    databases, log = Databases(office, root / "limits"), root / "limits" / "bots.log"
    log.parent.mkdir()
    runs = [await limits_run(office, reports, seconds, databases, log) for _ in range(repetitions)]
    results, model = [r for r, _ in runs], Stat.of([m for _, m in runs])
    what = f"{reports} reports from 20 canvassers into one project, evenly over {seconds:.0f} s"
    note = f"{what}, {repetitions} runs{'' if long else ' (--long: 100 in 60 s)'}; production limiter (transport.build: 30/s overall, 20/min per group)"
    cards = Stat.of([r.cards for r in results])
    section = "telegram limits"
    latencies = [
        ("receipt latency p50 (send → receipt at emulator)", "p50", ""),
        ("receipt latency p99", "p99", "< 2,000 ms"),
        ("receipt latency max", "max", ""),
    ]
    return [
        *(
            Row(section, figure, Stat.of([getattr(r, attr) for r in results]), "ms", goal=goal, note=note,
                higher_is_better=False)
            for figure, attr, goal in latencies
        ),
        Row(
            section,
            "last group card, after the first report",
            Stat.of([r.last_card for r in results]),
            "s",
            "20/min leaky bucket (aiolimiter model)",
            model,
            "≈ model",
            f"{cards.median:.0f} of {reports} cards arrived (min {cards.low:.0f}); {note}",
            higher_is_better=False,
        ),
    ]
