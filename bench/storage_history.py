"""The stored history of the storage section's ledgers, generated in bulk, and how fast it was made.

90 days of reports before the bench day, evenly spread over the five projects; those of the last 7 days are
1 in 4 active (≈ 2%). Every report has its 'reported' event, chained per project as the bot chains them
(``reportbot audit verify`` holds), and every visited report its visit (owned for the lapse period, lapsed to
the office after it). Bulk-inserted under the bot's own schema: stdlib sqlite3 executemany in one transaction,
asyncpg COPY and ANALYZE on PostgreSQL. The row: how many stored reports a second that took.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

from bench.common import POSTGRES, SQLITE, Row, Stat, database, insert_sql, qmark
from bench.storage_ledger import (
    BARE_COLUMNS,
    CANVASSERS,
    PROJECTS,
    SECTION,
    Ledger,
    Values,
    phone_text,
    register_office,
    where,
)
from reportbot.rules.audit import GENESIS, event_hash, personal_digest
from reportbot.rules.policy import Policy
from reportbot.storage.migrate import upgrade
from tests.storage.pg_socket import unix_socket_url
from tests.storage.race import REPORTED_AT, SURNAMES, TEAM

STORED_DAYS = 90
ACTIVE_DAYS = 7
LAPSE_DAYS = Policy().ownership_lapse_days
FIRST_DAY = REPORTED_AT.replace(hour=0, minute=0) - timedelta(days=STORED_DAYS)
INACTIVE = ("expired", "rejected", "visited")
ACTIVE = ("pending", "confirmed")
REPORT_COLUMNS = ("id", *BARE_COLUMNS)
EVENT_COLUMNS = (
    "id", "project_id", "phone", "report_id", "kind", "actor_id", "at", "prev_hash", "hash", "salt", "personal_digest",
)  # fmt: skip
HEAD_COLUMNS = ("project_id", "last_hash")
VISIT_COLUMNS = (
    "project_id", "phone", "at", "registered_by_id", "companions", "rule", "owner_id", "report_id",
    "last_activity_at", "lapsed_at",
)  # fmt: skip


@contextlib.asynccontextmanager
async def open_ledger(kind: str, stored: int, tmp: Path) -> AsyncIterator[Ledger]:
    """A migrated database with the office registered and ``stored`` reports bulk-inserted."""
    async with database(kind, stored, tmp) as url:
        await asyncio.to_thread(upgrade, url)
        ledger = await register_office(kind, url, stored)
        if kind == POSTGRES and (socket := await unix_socket_url(url)) is not None:
            ledger.url, ledger.tcp_url = socket, url
        if stored:
            start = time.perf_counter()
            await (asyncio.to_thread(fill_sqlite, ledger) if kind == SQLITE else fill_postgres(ledger))
            ledger.generation_s = time.perf_counter() - start
        yield ledger


def stored_report(ledger: Ledger, i: int, per_day: int, days: list[str]) -> tuple[Values, datetime]:
    """Past report i (REPORT_COLUMNS order) and its time, spread evenly over the 90 days before the bench day."""
    day, k = divmod(i, per_day)
    at = FIRST_DAY + timedelta(days=day, seconds=k * 86400 / per_day)
    active = day >= STORED_DAYS - ACTIVE_DAYS and i % 4 == 0
    status = ACTIVE[i // 4 % 2] if active else INACTIVE[i % 3]
    staff_id = ledger.canvasser_ids[i % CANVASSERS]
    stamp = ledger.stamp
    return (
        i + 1, ledger.project_ids[k % len(PROJECTS)], phone_text(i), f"BB-{days[day]}-{k // 5 + 1:04d}",
        SURNAMES[i % 20] + "先生", TEAM, staff_id, staff_id, stamp(at + timedelta(days=1)), stamp(at),
        stamp(at + timedelta(days=7)), status, "telegram", str(5000 + i % CANVASSERS),
    ), at  # fmt: skip


def stored_reports_at(ledger: Ledger) -> Iterator[tuple[Values, datetime]]:
    per_day = -(-ledger.stored // STORED_DAYS)
    days = [(FIRST_DAY + timedelta(days=d)).strftime("%Y%m%d") for d in range(STORED_DAYS)]
    return (stored_report(ledger, i, per_day, days) for i in range(ledger.stored))


def stored_reports(ledger: Ledger) -> Iterator[Values]:
    return (report for report, _ in stored_reports_at(ledger))


def stored_events(ledger: Ledger) -> Iterator[Values]:
    """The 'reported' event of every stored report (EVENT_COLUMNS order), chained per project as
    EventRepository.add chains them (``reportbot audit verify`` holds); the heads end up in ``ledger.heads``."""
    heads = ledger.heads
    for r, at in stored_reports_at(ledger):
        report_id, project_id, phone, actor_id = r[0], r[1], r[2], r[6]
        salt = secrets.token_hex(16)
        digest = personal_digest(salt, str(phone), None)
        prev = heads.get(int(project_id), GENESIS)  # type: ignore[call-overload]
        link = event_hash(prev, project_id, report_id, "reported", actor_id, at, None, digest)  # type: ignore[arg-type]
        heads[int(project_id)] = link  # type: ignore[call-overload]
        yield report_id, project_id, phone, report_id, "reported", actor_id, r[9], prev, link, salt, digest


def stored_visits(ledger: Ledger) -> Iterator[Values]:
    """The visit of every visited stored report (VISIT_COLUMNS order), a day after the report."""
    stamp, lapse_before = ledger.stamp, REPORTED_AT - timedelta(days=LAPSE_DAYS)
    for r, at in stored_reports_at(ledger):
        if r[11] != "visited":
            continue
        visited = at + timedelta(days=1)
        lapsed = visited < lapse_before  # nobody followed up: the office's since
        owner, lapsed_at = (None, stamp(visited + timedelta(days=LAPSE_DAYS))) if lapsed else (r[6], None)
        yield r[1], r[2], stamp(visited), r[6], 0, "reported", owner, r[0], stamp(visited), lapsed_at


def audit_heads(ledger: Ledger) -> list[Values]:
    return [(project_id, head) for project_id, head in ledger.heads.items()]


def fill_sqlite(ledger: Ledger) -> None:
    """Stdlib sqlite3 executemany inside one transaction on the migrated file."""
    with contextlib.closing(sqlite3.connect(ledger.path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany(insert_sql("report", REPORT_COLUMNS, qmark), stored_reports(ledger))
        conn.executemany(insert_sql("event", EVENT_COLUMNS, qmark), stored_events(ledger))
        conn.executemany(insert_sql("audit_head", HEAD_COLUMNS, qmark), audit_heads(ledger))
        conn.executemany(insert_sql("visit", VISIT_COLUMNS, qmark), stored_visits(ledger))
        conn.execute("COMMIT")


async def fill_postgres(ledger: Ledger) -> None:
    """asyncpg binary COPY, the id sequences moved past it, and the ANALYZE autovacuum would run."""
    conn = await asyncpg.connect(ledger.dsn)
    try:
        await conn.copy_records_to_table("report", records=stored_reports(ledger), columns=REPORT_COLUMNS)
        await conn.copy_records_to_table("event", records=stored_events(ledger), columns=EVENT_COLUMNS)
        await conn.copy_records_to_table("audit_head", records=audit_heads(ledger), columns=HEAD_COLUMNS)
        await conn.copy_records_to_table("visit", records=stored_visits(ledger), columns=VISIT_COLUMNS)
        for table in ("report", "event"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        await conn.execute("ANALYZE report, event, visit")
    finally:
        await conn.close()


def generation_rows(ledger: Ledger) -> list[Row]:
    if ledger.generation_s is None:
        return []
    note = f"{ledger.stored:,} reports, their chained events, a visit per visited report, in {ledger.generation_s:.1f} s"
    how = "sqlite3 executemany, one transaction" if ledger.kind == SQLITE else "asyncpg COPY + ANALYZE"
    rate = Stat.of([ledger.stored / ledger.generation_s])
    return [Row(SECTION, f"generate stored history — {where(ledger)}", rate, "reports/s", how, note=note)]
