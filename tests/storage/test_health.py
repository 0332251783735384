"""Telling an outage from a bug (storage/health.py), and the pool after a restart (issue 21 §1)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from reportbot.storage.db import Database
from reportbot.storage.health import Verdict, describe, is_outage, probe, reach, unreachable
from reportbot.storage.migrate import upgrade
from tests.fakes.pg_cluster import OwnPostgres


def sqlite_error(code: int, words: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(words)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


def wrapped(orig: BaseException) -> sa_exc.DBAPIError:
    """As SQLAlchemy raises a driver's error: the driver's error in ``orig``."""
    return sa_exc.OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connect call failed"),
    ConnectionResetError(104, "reset by peer"),
    TimeoutError(),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.exceptions.DiskFullError("could not extend file: No space left on device"),
    asyncpg.exceptions.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
    wrapped(sqlite_error(sqlite3.SQLITE_BUSY, "database is locked")),
    wrapped(sqlite_error(sqlite3.SQLITE_FULL, "database or disk is full")),
    wrapped(sqlite_error(sqlite3.SQLITE_IOERR | (10 << 8), "disk I/O error")),
    sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
], ids=lambda e: type(e).__name__)
def test_the_database_being_away_is_an_outage(error: BaseException) -> None:
    assert is_outage(error)


@pytest.mark.parametrize("error", [
    KeyError("a field nobody foresaw"),
    ValueError("bad data"),
    asyncpg.exceptions.UniqueViolationError("duplicate key value"),
    asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.exceptions.UndefinedColumnError("column does not exist"),
    wrapped(sqlite_error(sqlite3.SQLITE_ERROR, "no such column: x")),
    sa_exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
], ids=lambda e: type(e).__name__)
def test_a_fault_of_the_message_or_the_code_is_not_an_outage(error: BaseException) -> None:
    assert not is_outage(error)


def test_an_outage_raised_during_another_error_is_seen() -> None:
    """A rollback failing on the dead connection raises a new error: the cause is still found."""
    try:
        try:
            raise asyncpg.exceptions.AdminShutdownError("terminating connection")
        except asyncpg.exceptions.AdminShutdownError:
            raise RuntimeError("rollback failed") from None
    except RuntimeError as error:
        assert is_outage(error)


def test_a_database_is_described_without_its_password() -> None:
    url = "postgresql+asyncpg://bot:hunter2-secret@db.office.lan:6432/ledger"
    sentence = unreachable(url, ConnectionRefusedError(111, "Connect call failed"))
    assert "PostgreSQL db.office.lan:6432（数据库 ledger，用户 bot）" in sentence and "请检查" in sentence
    assert "hunter2" not in sentence and "hunter2" not in describe(url)


async def test_a_healthy_database_answers_the_probe(db: Database) -> None:
    found = await probe(db)
    assert found.ok and found.round_trip_ms is not None and found.problem is None


async def test_a_database_nobody_listens_for_fails_the_probe_and_reach() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:9/nothing"
    db = Database(url)
    try:
        found = await probe(db, timeout=5)
    finally:
        await db.dispose()
    assert not found.ok and "ConnectionRefusedError" in (found.problem or "")
    assert isinstance(await asyncio.to_thread(reach, url), OSError)


async def test_sqlite_locked_by_another_process_fails_the_probe_until_it_is_let_go(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    holder = sqlite3.connect(sqlite_url.split("///", 1)[1], isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        locked = await probe(db)
        holder.execute("ROLLBACK")
        free = await probe(db)
    finally:
        holder.close()
        await db.dispose()
    assert not locked.ok and "locked" in (locked.problem or "")
    assert free.ok


async def test_after_a_restart_no_closed_connection_is_handed_out_again(own_pg: OwnPostgres) -> None:
    """The issue's second loss: pooled connections the restart closed were used again (InterfaceError)."""
    url = own_pg.create(f"pool_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        async def one_write() -> None:
            async with db.uow(orm=False) as uow:
                await (await uow.sql()).execute("SELECT 1")
                await uow.commit()

        await asyncio.gather(*(one_write() for _ in range(5)))  # the pool holds several connections now
        await asyncio.to_thread(own_pg.stop)
        await asyncio.to_thread(own_pg.start)
        await asyncio.sleep(0.1)  # the event loop sees the sockets end
        await asyncio.gather(*(one_write() for _ in range(5)))  # every one on a fresh connection, first time
    finally:
        await db.dispose()


async def test_the_watch_waits_out_an_outage_and_runs_its_recovery_steps(own_pg: OwnPostgres) -> None:
    url = own_pg.create(f"watch_{uuid.uuid4().hex[:8]}")
    db = Database(url)
    recovered: list[bool] = []

    async def step() -> None:
        recovered.append(True)

    db.watch.on_recovery.append(step)
    try:
        await asyncio.to_thread(own_pg.stop)
        try:
            assert await db.watch.classify(ConnectionRefusedError(111, "refused")) is Verdict.OUTAGE
            assert db.watch.is_down and not await db.watch.wait_until_up(timeout=1.0)
        finally:
            await asyncio.to_thread(own_pg.start)
        assert await db.watch.wait_until_up(timeout=30)
        assert recovered == [True] and not db.watch.is_down
        assert await db.watch.classify(ConnectionResetError(104, "reset")) is Verdict.BLIP  # up again: a blip
        assert await db.watch.classify(KeyError("bug")) is Verdict.FAILURE
    finally:
        await db.dispose()
