"""Throughput and p99 of the storage section: the report pipeline beside the bare floors of the same run.

The loads of bench/storage_pipeline.py and bench/storage_floors.py are measured together, repetitions
interleaved (bench/common.py ``measure``); on PostgreSQL ``ANALYZE report`` runs before each measured run
(bench/storage_ledger.py ``analyze``) and the server's own CPU is read from /proc. Rows: each pipeline load
beside its floor (rate and p99), the floors beside the issue's figures, and on PostgreSQL the CPU a report
takes, the bot's and the server's together, beside what the cores allow at half the 8-connection floor.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace

from bench.common import POSTGRES, SQLITE, Load, Measured, Row, Stat, measure, postgres_cpu_seconds
from bench.storage_floors import (
    AIOSQLITE,
    ASYNCPG_1,
    ASYNCPG_8,
    ASYNCPG_8_WRITES,
    FLOORS,
    ISSUE_FIGURES,
    SQLITE3,
)
from bench.storage_ledger import OVER_TCP, SECTION, Ledger, Plan, analyze, where
from bench.storage_pipeline import PIPELINE, PIPELINE_8, PIPELINE_8_SPREAD, PIPELINE_GROUPED, pipeline_loads
from reportbot.handlers.context import Services


async def throughput_loads(
    svc: Services, ledger: Ledger, plan: Plan, tcp: Services | None, stack: contextlib.AsyncExitStack
) -> dict[str, Load]:
    """The pipeline's loads, then the floors' (their connections closed by ``stack``)."""
    return {**pipeline_loads(svc, ledger, plan, tcp), **await FLOORS[ledger.kind](ledger, plan, stack)}


async def measure_throughput(ledger: Ledger, plan: Plan, loads: dict[str, Load]) -> dict[str, Measured]:
    """``plan.reps`` interleaved repetitions of every load; on PostgreSQL ``report`` analysed before each
    measured run and the server's CPU read."""
    analyzed = (lambda: analyze(ledger)) if ledger.kind == POSTGRES else None
    server_cpu = postgres_cpu_seconds if ledger.kind == POSTGRES else None
    return await measure(plan.reps, loads, plan.seconds_per_rep, analyzed, server_cpu)


def latency_note(m: Measured) -> str:
    server = f", PostgreSQL's {m.server_cpu.show(2)} ms/op" if m.server_cpu else ""
    latency = f"{m.count:,}/rep; p50 {m.p50.show(2)} ms, p99 {m.p99.show(2)} ms"
    return f"{latency}; CPU here {m.cpu.show(2)} ms/op{server}"


PIPELINE_NOTE = "; delivery key + report + answers in the outbox, one transaction (as bot/telegram.py)"


def comparison_rows(
    ledger: Ledger, m: dict[str, Measured], value: str, floor: str, goals: tuple[str, str]
) -> list[Row]:
    """Throughput and p99 of a pipeline load, each beside a floor load of the same run."""
    rate_goal, p99_goal = goals
    v, f = m[value], m[floor]
    name, floor = value.removesuffix(OVER_TCP), floor.removesuffix(OVER_TCP)
    return [
        Row(SECTION, f"{name} — {where(ledger, value)}", v.rate, "reports/s", floor, f.rate, rate_goal,
            latency_note(v) + PIPELINE_NOTE),
        Row(SECTION, f"{name} p99 — {where(ledger, value)}", v.p99, "ms", f"{floor} p99", f.p99, p99_goal,
            f"p50 {v.p50.show(2)} ms vs {f.p50.show(2)} ms", higher_is_better=False),
    ]  # fmt: skip


def grouped_rows(ledger: Ledger, m: dict[str, Measured], floor: str, goals: tuple[str, str] = ("", "")) -> list[Row]:
    rate, p99 = comparison_rows(ledger, m, PIPELINE_GROUPED, floor, goals)
    group_note = "; p50/p99 per group: until its answers may go out"
    return [replace(rate, note=rate.note + group_note), replace(p99, note=p99.note + group_note)]


WRITES_NOTE = (
    "; one project, as the 8-caller pipeline: delivery key, customer state, filing (head, number, report, "
    "reminders, event), 2 answers into the outbox; the repositories' own SQL on bare connections"
)


def throughput_rows(ledger: Ledger, m: dict[str, Measured]) -> list[Row]:
    floors = [Row(SECTION, f"{name} — {where(ledger)}", m[name].rate, "reports/s", ISSUE_FIGURES[name],
                  note=latency_note(m[name])) for name in ISSUE_FIGURES if name in m]  # fmt: skip
    if ledger.kind == SQLITE:
        # The goal is the bot's under load: a burst arrives as batches of updates, handled in groups
        # (bot/polling.py). One report at a time is what a report gets when nothing is waiting.
        big = ledger.stored >= 1_000_000
        goals = ("≥ 1,000/s and ratio ≥ 0.50" if big else "", "< 5 ms" if big else "")
        pipeline = comparison_rows(ledger, m, PIPELINE, AIOSQLITE, ("", ""))
        pipeline += comparison_rows(ledger, m, PIPELINE, SQLITE3, ("", ""))[:1]
        pipeline += grouped_rows(ledger, m, AIOSQLITE, goals) + grouped_rows(ledger, m, SQLITE3)[:1]
    else:
        pipeline = comparison_rows(ledger, m, PIPELINE, ASYNCPG_1, ("", ""))
        pipeline += grouped_rows(ledger, m, ASYNCPG_1)
        pipeline += comparison_rows(ledger, m, PIPELINE_8, ASYNCPG_8, ("ratio ≥ 0.50", ""))
        pipeline += comparison_rows(ledger, m, PIPELINE_8, ASYNCPG_8_WRITES, ("", ""))[:1]
        pipeline += comparison_rows(ledger, m, PIPELINE_8_SPREAD, ASYNCPG_8, ("", ""))[:1]
        if ASYNCPG_8 + OVER_TCP in m:
            for load in (PIPELINE_8, PIPELINE_8_SPREAD):
                pipeline += comparison_rows(ledger, m, load + OVER_TCP, ASYNCPG_8 + OVER_TCP, ("", ""))[:1]
            tcp_floor = m[ASYNCPG_8 + OVER_TCP]
            floors.append(Row(SECTION, f"{ASYNCPG_8} — {where(ledger, OVER_TCP)}", tcp_floor.rate, "reports/s",
                              ISSUE_FIGURES[ASYNCPG_8], note=latency_note(tcp_floor)))
        writes = m[ASYNCPG_8_WRITES]
        floors.append(Row(SECTION, f"{ASYNCPG_8_WRITES} — {where(ledger)}", writes.rate, "reports/s",
                          ASYNCPG_8, m[ASYNCPG_8].rate, note=latency_note(writes) + WRITES_NOTE))
        pipeline += cpu_budget_rows(ledger, m)
    return pipeline + floors


def cpu_budget_rows(ledger: Ledger, m: dict[str, Measured]) -> list[Row]:
    """The CPU a report takes, the bot's and PostgreSQL's together, beside what the machine's cores allow a
    report at half the 8-connection floor: where the database runs on the bot's machine, no design of the
    bot reaches that rate while a report takes more."""
    floor = m[ASYNCPG_8]
    if floor.both_cpu is None:
        return []
    cores = len(os.sched_getaffinity(0))
    half_rate = floor.rate.median / 2

    def µs(ms: Stat) -> Stat:
        return Stat(ms.median * 1000, ms.low * 1000, ms.high * 1000)

    # the fastest floor repetition allows the least CPU
    allowed = Stat(*(cores * 1_000_000 / (rate / 2) for rate in (floor.rate.median, floor.rate.high,
                                                                  floor.rate.low)))
    rows = []
    for name in (PIPELINE_8, ASYNCPG_8_WRITES, ASYNCPG_8):
        both, here, server = m[name].both_cpu, m[name].cpu, m[name].server_cpu
        assert both is not None and server is not None
        rows.append(Row(
            SECTION, f"CPU a report, this process + PostgreSQL — {name} — {where(ledger)}", µs(both), "µs",
            f"{cores} cores / half the 8-connection floor ({half_rate:,.0f}/s)", allowed,
            "ratio ≤ 1.00 for the 8-caller goal" if name == PIPELINE_8 else "",
            f"here {here.show(2)} + PostgreSQL {server.show(2)} ms; at {m[name].rate.median:,.0f}/s",
            higher_is_better=False,
        ))  # fmt: skip
    return rows
