"""Telegram throughput: 2,000 reports from 50 canvassers in 5 projects through our bot, beside a PTB echo bot.

All reports at once (50 in flight) on the emulator, until every answer has arrived: our bot as
`reportbot run` serves it (a receipt and a group card per report), against the echo bot with sequential
updates (the ceiling), with concurrent updates, and on the bot's own Bot API client (aiohttp); repetitions
interleaved. Both rate limits are off here (the limits are measured in bench/telegram_limits.py); the long
mode adds a run under the production limiter, until every receipt.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench.common import Row, Stat
from bench.telegram_bot import UNLIMITED, BotSpec, bot_on_emulator, serve_command
from bench.telegram_office import Databases, Office, burst


@dataclass(frozen=True)
class Throughput:
    messages_per_second: float
    seconds: float
    cpu_ms_per_report: float


async def throughput_run(
    spec: BotSpec, office: Office, reports: int, databases: Databases, log: Path
) -> Throughput:
    """All reports at once (50 in flight); until every receipt (or echo) has arrived.

    Only the receipts are waited for. The group cards no longer come one a report: since gathered cards
    (issue 24) a group whose line falls behind gets its waiting cards on one message, so how many group
    messages a burst makes depends on timing; the cards' own latency and count are measured by
    bench/cards_bench.py (and the limits rows here), each report on exactly one card."""
    spec = BotSpec(**{**asdict(spec), "db_url": await databases.fresh()})
    messages = [office.report(n) for n in range(reports)]
    chats = [p.user_id for p in office.people]
    expected = reports
    async with bot_on_emulator(serve_command(spec), log) as session:
        cpu_before = session.cpu_seconds()
        sent = await burst(session.people, messages)
        arrived = (await session.people.wait(chats, expected, timeout=600)).all(chats)
        cpu = session.cpu_seconds() - cpu_before
    _check_answers(spec, arrived, expected, receipts=reports if spec.kind == "reportbot" else 0)
    seconds = max(t for t, _ in arrived) - min(sent)
    return Throughput(expected / seconds, seconds, cpu / reports * 1000)


def _check_answers(spec: BotSpec, arrived: list[tuple[float, str]], expected: int, receipts: int) -> None:
    if len(arrived) != expected:
        raise RuntimeError(f"{spec.kind}: {len(arrived)} of {expected} answers arrived")
    if spec.kind == "reportbot":
        got = sum("✅ 报备已登记" in text for _, text in arrived)
        if got != receipts:
            sample = next(
                (text for _, text in arrived if "报备已登记" not in text and "确认" not in text), "?"
            )
            raise RuntimeError(f"{got} of {receipts} receipts among the answers, e.g. {sample!r}")


async def throughput_rows(long: bool, root: Path) -> list[Row]:
    """Our bot as `reportbot run` serves it against the echo bot, repetitions interleaved."""
    office, reports = Office.of(projects=5, canvassers=50), 2000
    databases, log = Databases(office, root), root / "bots.log"
    # On a noisy machine the echo bot alone varied 267-392 messages/s between runs: five interleaved
    # repetitions of each, so that the ratio's medians are not a coin toss.
    plan = {  # name: (spec, repetitions in default mode); long mode repeats each 5 times
        "echo": (BotSpec("echo"), 5),
        "reportbot": (BotSpec("reportbot"), 5),
        "echo-concurrent": (BotSpec("echo", concurrent=True), 1),
        "echo-aiohttp": (BotSpec("echo", http="aiohttp"), 3),
    }
    results: dict[str, list[Throughput]] = {name: [] for name in plan}
    for repetition in range(max(repetitions for _, repetitions in plan.values())):
        for name, (spec, repetitions) in plan.items():
            if long or repetition < repetitions:
                results[name].append(await throughput_run(spec, office, reports, databases, log))
    ceiling = Stat.of([r.messages_per_second for r in results["echo"]])
    rows = [
        _throughput_row(name, results[name], ceiling)
        for name in ("reportbot", "echo-concurrent", "echo-aiohttp")
    ]
    ours = Stat.of([r.messages_per_second for r in results["echo-aiohttp"]])
    rows.append(replace(_throughput_row("reportbot", results["reportbot"], ours, ECHO_AIOHTTP), goal=""))
    if long:
        production = BotSpec("reportbot", production_limiter=True)
        slow = [await throughput_run(production, office, reports, databases, log)]
        rows.append(_throughput_row("production-limiter", slow, ceiling))
    return rows


ECHO_HTTPX = "PTB echo bot, sequential updates, 2,000 messages"
ECHO_AIOHTTP = "PTB echo bot on the bot's own Bot API client (aiohttp), 2,000 messages"


def _throughput_row(name: str, runs: list[Throughput], ceiling: Stat, ceiling_name: str = ECHO_HTTPX) -> Row:
    figures = {
        "reportbot": (
            (
                "2,000 reports from 50 canvassers in 5 projects, as `reportbot run` serves them (own polling "
                "loop: updates handled in order, answers sent concurrently, one queue per chat)"
            ),
            "≥ 80% of echo",
        ),
        "echo-concurrent": ("PTB echo bot with concurrent_updates(True)", ""),
        "echo-aiohttp": (("PTB echo bot, sequential updates, on the bot's own Bot API client (bot/bot_api_http.py: "
                          "aiohttp instead of PTB's httpx)"), ""),
        "production-limiter": ("the same, production AIORateLimiter (30/s overall): until every receipt",
                               "≈ 30/s"),
    }
    figure, goal = figures[name]
    seconds = Stat.of([r.seconds for r in runs])
    note = f"{len(runs)} run(s); all answers in {seconds.show()} s"
    if name in ("reportbot", "production-limiter"):
        cpu = Stat.of([r.cpu_ms_per_report for r in runs])
        made = ("receipts (the group cards are gathered when a group falls behind: bench/cards_bench.py)"
                if name == "reportbot" else "receipts only (the cards wait for 20/min/group)")
        note += f"; {made}; bot CPU {cpu.show(2)} ms/report"
    if name != "production-limiter":
        note += f"; limiter {UNLIMITED} in bot and echo"
    unit = "bot messages/s"
    return Row(
        "telegram throughput",
        figure,
        Stat.of([r.messages_per_second for r in runs]),
        unit,
        ceiling_name,
        ceiling,
        goal,
        note,
    )
