"""The reminder sweep (handlers/sweep.py) with 100,000 pending reminders stored, on a storage ledger.

The reminders are bulk-inserted beside the ledger's active reports (three reminder kinds a canvasser
gets about a report), falling due evenly over the week after the bench moment: about five come due
in each sweep interval. Measured: one ``send_due`` (find the due ones, claim them, render their
messages and store them in the outbox, one commit), one sweep interval after another; then the whole
pass (``run_sweep``: expiries, lapsed ownership, digests, then ``send_due``) at the following intervals.
The backlog of expiries the generated history leaves at the bench moment is worked off first.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sized
from datetime import datetime, timedelta

import asyncpg

from bench.common import Row, Stat
from bench.storage_ledger import Ledger
from reportbot.handlers.context import Services
from reportbot.handlers.sweep import expire_reports, lapse_ownership, run_sweep, send_due
from reportbot.storage.tables import ACTIVE_SQL
from tests.storage.race import REPORTED_AT

PENDING = 100_000
KINDS = ("appt_day", "appt_soon", "expiry_warn")
SPREAD = timedelta(days=7)
COLUMNS = ("key", "kind", "project_id", "report_id", "staff_id", "due_at")
CHANNELS = ("telegram",)
ACTIVE_REPORTS = f"SELECT id, project_id, canvasser_id FROM report WHERE {ACTIVE_SQL} ORDER BY id DESC LIMIT {PENDING}"


def reminders(ledger: Ledger, reports: list[tuple[int, int, int]]) -> list[tuple[object, ...]]:
    """PENDING reminders (COLUMNS order) about ``reports`` in turn, due evenly over SPREAD after the bench moment."""
    def due(j: int) -> object:
        return ledger.stamp(REPORTED_AT + SPREAD * j / PENDING)

    return [
        (f"bench:{j}", KINDS[j % len(KINDS)], project_id, report_id, staff_id, due(j))
        for j in range(PENDING)
        for report_id, project_id, staff_id in [reports[j % len(reports)]]
    ]


def _fill_sqlite(ledger: Ledger) -> int:
    with contextlib.closing(sqlite3.connect(ledger.path, isolation_level=None)) as conn:
        reports = conn.execute(ACTIVE_REPORTS).fetchall()
        marks = ", ".join("?" * len(COLUMNS))
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO reminder ({', '.join(COLUMNS)}) VALUES ({marks})", reminders(ledger, reports))
        conn.execute("COMMIT")
        return int(conn.execute("SELECT count(*) FROM reminder WHERE sent_at IS NULL").fetchone()[0])


async def _fill_postgres(ledger: Ledger) -> int:
    conn = await asyncpg.connect(ledger.dsn)
    try:
        reports = [(r[0], r[1], r[2]) for r in await conn.fetch(ACTIVE_REPORTS)]
        await conn.copy_records_to_table("reminder", records=reminders(ledger, reports), columns=COLUMNS)
        await conn.execute("ANALYZE reminder")
        return int(await conn.fetchval("SELECT count(*) FROM reminder WHERE sent_at IS NULL"))
    finally:
        await conn.close()


async def _timed(call: Callable[[], Awaitable[Sized]]) -> tuple[float, int]:
    start = time.perf_counter()
    found = await call()
    return (time.perf_counter() - start) * 1000, len(found)


async def sweep_rows(ledger: Ledger, svc: Services, reps: int, where: str, section: str) -> list[Row]:
    """The two sweep rows of one ledger."""
    start: datetime = REPORTED_AT
    step = timedelta(seconds=svc.policy.sweep_seconds)
    pending = await (asyncio.to_thread(_fill_sqlite, ledger) if ledger.kind == "SQLite" else _fill_postgres(ledger))
    while await expire_reports(svc, start) or await lapse_ownership(svc, start):
        pass  # the history's backlog at the bench moment, worked off before anything is timed
    while await send_due(svc, start, CHANNELS):
        pass  # and the reminders that backlog planned
    due = [await _timed(lambda k=k: send_due(svc, start + k * step, CHANNELS)) for k in range(1, reps + 1)]
    passes = [
        await _timed(lambda k=k: run_sweep(svc, start + k * step, CHANNELS)) for k in range(reps + 1, 2 * reps + 1)
    ]
    goal = "< 200 ms" if ledger.stored >= 1_000_000 else ""
    stored = f"{pending:,} pending reminders stored"
    interval = f"one sweep every {step.seconds} s"
    return [
        Row(section, f"reminder sweep: find, claim and store the due reminders (send_due) — {where}",
            Stat.of([ms for ms, _ in due]), "ms", goal=goal, higher_is_better=False,
            note=f"{stored}; {Stat.of([n for _, n in due]).show(0)} messages per sweep ({interval}); {reps} sweeps"),
        Row(section, f"whole sweep pass (expire, lapse, digests, send_due) — {where}",
            Stat.of([ms for ms, _ in passes]), "ms", higher_is_better=False,
            note=f"{stored}; {Stat.of([n for _, n in passes]).show(0)} messages per pass; {reps} passes"),
    ]  # fmt: skip
