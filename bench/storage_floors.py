"""The floors of the storage section: the same logical transaction as a report, bare, on each driver.

"Look up (project, masked phone) among active reports, insert if free, commit", with stdlib sqlite3
(BEGIN IMMEDIATE), aiosqlite, and asyncpg on 1 and 8 connections (8 again over TCP loopback where the
ledger is reached over its Unix socket); and, on PostgreSQL, a report's own statements through the
report path's repositories on bare connections, without the pipeline's Python around them.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import timedelta

import aiosqlite
import asyncpg

from bench.common import POSTGRES, SQLITE, Load, calls, dollar, insert_sql, qmark
from bench.storage_ledger import (
    BARE_COLUMNS,
    CANVASSERS,
    MESSAGE_IDS,
    OVER_TCP,
    POLICY,
    Ledger,
    Plan,
    Values,
    phone_text,
)
from reportbot.handlers.report import planned_reminders
from reportbot.storage.deliveries import DeliveryRepository
from reportbot.storage.report_filing import NewReport
from reportbot.storage.reports import ReportRepository
from reportbot.storage.sql import PostgresSql
from reportbot.storage.tables import ACTIVE_SQL
from tests.storage.race import REPORTED_AT, TEAM, canvasser

SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")

# Names of the loads, as the table shows them.
SQLITE3, AIOSQLITE = "bare tx, stdlib sqlite3", "bare tx, aiosqlite"
ASYNCPG_1, ASYNCPG_8 = "bare tx, asyncpg 1 connection", "bare tx, asyncpg 8 connections"
# Not the issue's floor: a report's own writes, through the report path's own statements, bare.
ASYNCPG_8_WRITES = "a report's statements, bare, asyncpg 8 connections"
ISSUE_FIGURES = {
    SQLITE3: "issue: ≈ 32,000/s, p99 ≈ 60 µs",
    AIOSQLITE: "issue: ≈ 1,900/s, p99 ≈ 0.9 ms",
    ASYNCPG_1: "issue: ≈ 1,400/s",
    ASYNCPG_8: "issue: ≈ 5,000/s",
}

SQLITE_SELECT = f"SELECT id FROM report WHERE project_id = ? AND phone = ? AND {ACTIVE_SQL}"
SQLITE_INSERT = insert_sql("report", BARE_COLUMNS, qmark)
PG_SELECT = f"SELECT id FROM report WHERE project_id = $1 AND phone = $2 AND {ACTIVE_SQL}"
PG_INSERT = insert_sql("report", BARE_COLUMNS, dollar)


def sqlite3_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(pragma)
    return conn


def sqlite3_tx(conn: sqlite3.Connection, values: Values) -> bool:
    """The bare transaction on stdlib sqlite3 (BEGIN IMMEDIATE); True if the report was inserted."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        free = conn.execute(SQLITE_SELECT, values[:2]).fetchone() is None
        if free:
            conn.execute(SQLITE_INSERT, values)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return free


async def aiosqlite_tx(conn: aiosqlite.Connection, values: Values) -> bool:
    """The same SQL through aiosqlite: four hops to its thread (BEGIN, SELECT, INSERT, COMMIT)."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        free = not await conn.execute_fetchall(SQLITE_SELECT, values[:2])
        if free:
            await conn.execute(SQLITE_INSERT, values)
        await conn.execute("COMMIT")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    return free


async def asyncpg_tx(conn: asyncpg.Connection, values: Values) -> bool:
    """The same on asyncpg; the partial unique index turns a concurrent second insert away."""
    try:
        async with conn.transaction():
            if await conn.fetchval(PG_SELECT, *values[:2]) is not None:
                return False
            await conn.execute(PG_INSERT, *values)
            return True
    except asyncpg.UniqueViolationError:
        return False


class BareUnit:
    """A unit of work that is only a bare asyncpg connection: what the raw repositories need of one."""

    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._sql = PostgresSql(conn)

    async def sql(self) -> PostgresSql:
        return self._sql


# Two answers of a receipt's and a card's size (the outbox's payloads: JSON of the text and buttons).
BARE_ANSWERS = tuple(
    json.dumps({"t": "send", "chat": "5000", "text": "报备成功 回执号 BB-20261123-0001 " * 12, "buttons": [],
                "channel": "telegram"}, ensure_ascii=False)
    for _ in range(2)
)


async def asyncpg_report_tx(conn: asyncpg.Connection, ledger: Ledger, i: int) -> bool:
    """A report's statements as the pipeline sends them on PostgreSQL, with nothing of the pipeline around
    them: the delivery key, the customer's state, the filing (head, number, report, reminders, event) and
    the two answers into the outbox, in one transaction. Not sent: the sender's lookup and the savepoint.
    What the pipeline costs beyond this is Python: parsing, rendering, the unit of work."""
    unit = BareUnit(conn)
    reports, deliveries = ReportRepository(unit), DeliveryRepository(unit)  # type: ignore[arg-type]
    staff_id, phone = ledger.canvasser_ids[i % CANVASSERS], phone_text(ledger.take_phones())
    appointment, valid_until = REPORTED_AT + timedelta(hours=29), REPORTED_AT + timedelta(days=8)
    new = NewReport(
        project_id=ledger.project_ids[0], receipt_prefix="BB-20261123-", customer="张先生", phone=phone, team=TEAM,
        canvasser_id=staff_id, canvasser_name=canvasser(i % CANVASSERS).name, filed_by_id=staff_id,
        appointment_at=appointment, reported_at=REPORTED_AT, valid_until=valid_until, note=None, reason=None,
        source_channel="telegram", source_chat=str(5000 + i % CANVASSERS),
    )  # fmt: skip
    reminders = planned_reminders(REPORTED_AT, appointment, valid_until, staff_id, POLICY)
    async with conn.transaction():
        delivery_id = await deliveries.claim("telegram", f"bare:{os.getpid()}-{next(MESSAGE_IDS)}", REPORTED_AT)
        state = await reports.customer_state(new.project_id, phone, staff_id)
        if state.latest is not None and state.latest.status.active:
            return False
        await reports.file(new, "20261123", reminders)
        await deliveries.queue(delivery_id, [("telegram", new.source_chat, answer) for answer in BARE_ANSWERS],
                               REPORTED_AT)
    return True


async def sqlite_floors(ledger: Ledger, plan: Plan, stack: contextlib.AsyncExitStack) -> dict[str, Load]:
    plain = stack.enter_context(contextlib.closing(sqlite3_connect(ledger.path)))
    aio = await aiosqlite.connect(ledger.path, isolation_level=None, timeout=30)
    stack.push_async_callback(aio.close)
    for pragma in SQLITE_PRAGMAS:
        await aio.execute(pragma)

    async def plain_one(i: int) -> None:
        sqlite3_tx(plain, ledger.bare_values(i))

    async def aio_one(i: int) -> None:
        await aiosqlite_tx(aio, ledger.bare_values(i))

    return {
        SQLITE3: calls(plain_one, plan.floor_reports),
        AIOSQLITE: calls(aio_one, plan.floor_reports),
    }


async def postgres_floors(ledger: Ledger, plan: Plan, stack: contextlib.AsyncExitStack) -> dict[str, Load]:
    conns = [await asyncpg.connect(ledger.dsn) for _ in range(8)]
    for conn in conns:
        stack.push_async_callback(conn.close)

    async def one(i: int) -> None:
        await asyncpg_tx(conns[i % 8], ledger.bare_values(i))

    over_tcp: dict[str, Load] = {}
    if ledger.tcp_dsn is not None:
        tcp_conns = [await asyncpg.connect(ledger.tcp_dsn) for _ in range(8)]
        for conn in tcp_conns:
            stack.push_async_callback(conn.close)
        over_tcp[ASYNCPG_8 + OVER_TCP] = calls(
            lambda i: asyncpg_tx(tcp_conns[i % 8], ledger.bare_values(i)), plan.floor_reports, workers=8
        )

    return {
        ASYNCPG_1: calls(lambda i: asyncpg_tx(conns[0], ledger.bare_values(i)), plan.floor_reports),
        ASYNCPG_8: calls(one, plan.floor_reports, workers=8),
        ASYNCPG_8_WRITES: calls(lambda i: asyncpg_report_tx(conns[i % 8], ledger, i), plan.floor_reports, workers=8),
        **over_tcp,
    }


FLOORS = {SQLITE: sqlite_floors, POSTGRES: postgres_floors}
