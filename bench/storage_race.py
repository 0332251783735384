"""The 200-way race of the storage section: simultaneous reports of one customer, until all are answered.

Through the pipeline (bench/storage_pipeline.py) and through the bare transaction (bench/storage_floors.py)
on a pool of its own: 10 threads with a stdlib sqlite3 connection each, or an asyncpg pool of 10. Never two
receipts (asserted); an answer that is an error is counted and named in the row, not hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import asyncpg

from bench.common import POSTGRES, Load, Measured, Row, Sample
from bench.storage_floors import asyncpg_tx, sqlite3_connect, sqlite3_tx
from bench.storage_ledger import SECTION, Ledger, Values, phone_text, where
from bench.storage_pipeline import answer_report
from reportbot.handlers.context import Services

RACERS = 200
PIPELINE_RACE, FLOOR_RACE = "race via pipeline", "race via bare tx"

Answers = list[bool | BaseException]  # per racer: receipt or not, or the error it got instead


def race(answer_all: Callable[[int], Awaitable[Answers]]) -> Load:
    """Simultaneous reports of one customer: time until all are answered; never two receipts."""
    failures: Counter[str] = Counter()

    async def run(count: int) -> Sample:
        start = time.perf_counter()
        answers = await answer_all(count)
        elapsed = time.perf_counter() - start
        errors = [a for a in answers if isinstance(a, BaseException)]
        failures.update(f"{type(e).__name__}: {str(e).splitlines()[0][:80]}" for e in errors)
        won = sum(a is True for a in answers)
        assert won == 1 or (won == 0 and errors), f"{won} receipts for one customer"
        return count / elapsed, [elapsed * 1000]

    return Load(run, RACERS, failures)


def pooled_sqlite3_tx(conns: queue.Queue[sqlite3.Connection], values: Values) -> bool:
    conn = conns.get()
    try:
        return sqlite3_tx(conn, values)
    finally:
        conns.put(conn)


async def race_loads(svc: Services, ledger: Ledger, stack: contextlib.AsyncExitStack) -> dict[str, Load]:
    """The race through the pipeline and through the bare transaction, each a new customer every time."""

    async def via_pipeline(count: int) -> Answers:
        """As tests/storage/race.py report_all, but a new customer each time (a re-report needs a reason)."""
        phone = phone_text(ledger.take_phones())
        return await asyncio.gather(
            *(answer_report(svc, phone, n) for n in range(count)), return_exceptions=True
        )

    if ledger.kind == POSTGRES:
        pool = await asyncpg.create_pool(ledger.dsn, min_size=10, max_size=10)
        stack.push_async_callback(pool.close)

        async def bare(count: int) -> Answers:
            phone = phone_text(ledger.take_phones())

            async def answer(i: int) -> bool:
                async with pool.acquire() as conn:
                    return await asyncpg_tx(conn, ledger.bare_values(i, phone))

            return await asyncio.gather(*(answer(i) for i in range(count)), return_exceptions=True)

    else:
        threads = stack.enter_context(ThreadPoolExecutor(10, thread_name_prefix="bench-sqlite"))
        conns: queue.Queue[sqlite3.Connection] = queue.Queue()
        for _ in range(10):
            conns.put(stack.enter_context(contextlib.closing(sqlite3_connect(ledger.path))))

        async def bare(count: int) -> Answers:
            loop, phone = asyncio.get_running_loop(), phone_text(ledger.take_phones())
            jobs = [
                loop.run_in_executor(threads, pooled_sqlite3_tx, conns, ledger.bare_values(i, phone))
                for i in range(count)
            ]
            return await asyncio.gather(*jobs, return_exceptions=True)

    return {PIPELINE_RACE: race(via_pipeline), FLOOR_RACE: race(bare)}


def failure_note(load: Load, reps: int) -> str:
    if not load.failures:
        return ""
    listed = "; ".join(f"{n}× {message}" for message, n in load.failures.most_common(2))
    return f"; FAILED answers over {reps} races + warm-up: {listed}"


def race_rows(ledger: Ledger, m: dict[str, Measured], races: dict[str, Load], reps: int) -> list[Row]:
    floor = "asyncpg pool of 10" if ledger.kind == POSTGRES else "stdlib sqlite3, 10 threads"
    issue = "; issue floor ≈ 31–39 ms" if ledger.kind == POSTGRES else ""
    failed = failure_note(races[PIPELINE_RACE], reps) + failure_note(races[FLOOR_RACE], reps).replace(
        "FAILED", "floor FAILED"
    )
    return [
        Row(SECTION, f"{RACERS} simultaneous reports of one customer, until all answered — {where(ledger)}",
            m[PIPELINE_RACE].worst, "ms", f"bare tx, {floor}", m[FLOOR_RACE].worst,
            note=f"never two receipts (asserted){issue}{failed}", higher_is_better=False),
    ]  # fmt: skip
