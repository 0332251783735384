"""Storage: the report pipeline beside bare-transaction floors, on SQLite and PostgreSQL, in one run.

Every database is made for the run (SQLite files in a temporary directory, PostgreSQL databases named
``reportbot_bench_<random>``), migrated with alembic and removed at the end, even on error. On each, in
this order: the footprint (bench/storage_footprint.py, on the untouched ledger), throughput and p99 of
the pipeline beside the floors (bench/storage_throughput.py), the 200-way race (bench/storage_race.py) and
the reminder sweep (bench/sweep_bench.py); with stored reports, also how fast their history was generated
(bench/storage_history.py). What they share is in bench/storage_ledger.py and bench/common.py.
``python -m bench.storage_bench URL FIRST REPORTS QUERIES SECONDS`` is the footprint child process:
it answers REPORTS reports and QUERIES ``/who`` (each phase capped at SECONDS) and prints its peak RSS
as JSON.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from bench.common import POSTGRES, SQLITE, Row, measure
from bench.storage_footprint import child_main, footprint, footprint_rows
from bench.storage_history import generation_rows, open_ledger
from bench.storage_ledger import PLANS, SECTION, Ledger, Plan, services, where
from bench.storage_race import race_loads, race_rows
from bench.storage_throughput import measure_throughput, throughput_loads, throughput_rows
from bench.sweep_bench import sweep_rows


async def ledger_rows(ledger: Ledger, plan: Plan) -> list[Row]:
    """Everything measured on one database: footprint first (on the untouched ledger), then the loads."""
    fp = await footprint(ledger, plan)
    svc = services(ledger.url)
    tcp = services(ledger.tcp_url) if ledger.tcp_url else None
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(svc.db.dispose)
        if tcp is not None:
            stack.push_async_callback(tcp.db.dispose)
        loads = await throughput_loads(svc, ledger, plan, tcp, stack)
        races = await race_loads(svc, ledger, stack)
        throughput = await measure_throughput(ledger, plan, loads)
        raced = await measure(plan.race_reps, races)
        swept = await sweep_rows(ledger, svc, plan.reps, where(ledger), SECTION)
    return (
        generation_rows(ledger) + throughput_rows(ledger, throughput) + race_rows(ledger, raced, races, plan.race_reps)
        + footprint_rows(ledger, plan, fp) + swept
    )  # fmt: skip


async def run(long: bool) -> list[Row]:
    """The storage section: every stored level on SQLite and PostgreSQL."""
    plan = PLANS[long]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="reportbot-bench-") as tmp:
        for stored in plan.stored_levels:
            for kind in (SQLITE, POSTGRES):
                print(f"… storage: {kind}, {stored:,} stored", file=sys.stderr, flush=True)
                async with open_ledger(kind, stored, Path(tmp)) as ledger:
                    rows += await ledger_rows(ledger, plan)
    return rows


if __name__ == "__main__":
    child_main(sys.argv[1:])
