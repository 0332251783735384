"""Units of work that mix raw statements (storage.sql) with the ORM: one transaction either way."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from reportbot.rules.model import EventKind, Role
from reportbot.storage import sqlite_driver
from reportbot.storage.db import Database
from reportbot.storage.sql import PostgresSql, SqliteSql
from reportbot.storage.tables import DailyCounterRow, EventRow
from reportbot.storage.uow import TransactionLost
from tests.conftest import local

NOW = local("2026-11-23 10:00")


async def count(db: Database, table: type) -> int:
    async with db.uow(write=False) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(table))).scalar_one())


async def office(db: Database) -> tuple[int, int]:
    async with db.uow() as uow:
        project = await uow.projects.add("森林半岛", "-1001234", None, NOW)
        li = await uow.staff.add("李四", "飞虎队", Role.CANVASSER, project.id, {"telegram": "101"}, NOW)
        await uow.commit()
    return project.id, li.id


async def log(uow: object, project_id: int, actor_id: int) -> None:
    await uow.events.add(project_id=project_id, phone="138***88888", kind=EventKind.FOLLOWED_UP,  # type: ignore[attr-defined]
                         actor_id=actor_id, at=NOW, detail="回访")


async def test_raw_statements_and_orm_writes_commit_together_and_roll_back_together(db: Database) -> None:
    project_id, li = await office(db)
    for commit in (False, True):
        async with db.uow() as uow:
            await log(uow, project_id, li)  # raw
            await uow.counters.bump("malformed_report", "20261123")  # ORM, same transaction
            if commit:
                await uow.commit()
        assert await count(db, EventRow) == await count(db, DailyCounterRow) == int(commit)


async def test_a_raw_unit_refuses_the_orm(db: Database) -> None:
    async with db.uow(orm=False) as uow:
        with pytest.raises(RuntimeError, match="raw statements only"):
            uow.session  # noqa: B018


async def test_a_raw_joined_unit_rolled_back_takes_back_only_its_own_writes(db: Database) -> None:
    project_id, li = await office(db)
    async with db.enclosing() as outer:
        await log(outer, project_id, li)
        async with db.uow(orm=False) as joined:
            await log(joined, project_id, li)
            with pytest.raises(RuntimeError, match="would not know"):
                joined.session  # noqa: B018  (the ORM inside a raw savepoint)
        async with db.uow(orm=False) as joined:
            await log(joined, project_id, li)
            await joined.commit()
        await outer.commit()
    assert await count(db, EventRow) == 2
    async with db.uow(write=False) as uow:
        links, head = await uow.events.chain(project_id)
    assert head == links[-1].hash and [link.prev_hash for link in links[1:]] == [links[0].hash]


async def test_after_commit_work_waits_for_the_enclosing_commit_and_is_dropped_on_rollback(db: Database) -> None:
    project_id, li = await office(db)
    ran: list[str] = []

    async def note(what: str) -> None:
        # Runs outside the transaction: on SQLite a write unit here would fail inside it (it holds the lock).
        async with db.uow() as uow:
            await uow.counters.bump(what, "20261123")
            await uow.commit()
        ran.append(what)

    await db.after_commit(lambda: note("alone"))  # no enclosing transaction: at once
    assert ran == ["alone"]
    async with db.enclosing() as outer:
        await log(outer, project_id, li)
        await db.after_commit(lambda: note("committed"))
        assert ran == ["alone"]  # not yet
        await outer.commit()
    assert ran == ["alone", "committed"]

    async def broken() -> None:
        raise OSError("Telegram is away")

    async with db.enclosing() as outer:  # a failing one is logged; the next still runs; the commit stands
        await db.after_commit(broken)
        await db.after_commit(lambda: note("after a broken one"))
        await outer.commit()
    assert ran == ["alone", "committed", "after a broken one"]
    async with db.enclosing() as outer:
        await log(outer, project_id, li)
        await db.after_commit(lambda: note("rolled back"))
    with pytest.raises(ZeroDivisionError):
        async with db.enclosing() as outer:
            await db.after_commit(lambda: note("failed"))
            await outer.commit()
            1 / 0  # noqa: B018
    assert ran == ["alone", "committed", "after a broken one"]
    assert await count(db, EventRow) == 1


async def test_on_sqlite_a_write_unit_inside_another_fails_at_once(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        async with db.uow():
            with pytest.raises(RuntimeError, match="wait for itself"):
                async with db.uow():
                    pass
    finally:
        await db.dispose()


async def test_on_sqlite_waiting_for_another_writer_does_not_hold_up_the_event_loop(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    project_id, li = await office(db)
    other = sqlite3.connect(str(make_url(sqlite_url).database), isolation_level=None)  # another process's writer
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def write() -> None:
        async with db.uow() as uow:
            await log(uow, project_id, li)
            await uow.commit()

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    try:
        writer, ticker = asyncio.create_task(write()), asyncio.create_task(tick())
        while ticks < 20:  # the loop turns while the unit waits for the lock on aiosqlite's thread
            await asyncio.sleep(0.01)
        assert not writer.done()
        other.execute("COMMIT")
        await writer
        ticker.cancel()
        assert await count(db, EventRow) == 1
    finally:
        other.close()
        await db.dispose()


async def steady_writes(db: Database, commits: int) -> None:
    """A steady stream of small commits, each yielding to the event loop, as the bot does between updates."""
    for n in range(commits):
        async with db.uow() as uow:
            await uow.counters.bump("steady", f"{n:04d}")
            await uow.commit()
        await asyncio.sleep(0)


async def test_on_sqlite_the_write_ahead_log_starts_over_while_writes_go_on(sqlite_url: str) -> None:
    """SQLite starts its log over only after a checkpoint copied all of it. The checkpointer's pass runs
    on a thread while writes go on, and finishes with this process's writers held, so under a steady
    stream of writes (each yielding to the event loop, as the bot does between updates) the log file
    stays the size of a few passes' commits instead of growing with every commit (it grew to 1.3 GB in
    24,000 reports before)."""
    db = Database(sqlite_url)
    assert db._checkpointer is not None
    db._checkpointer.every = 8
    wal = f"{make_url(sqlite_url).database}-wal"
    try:
        await steady_writes(db, 600)
        with sqlite3.connect(make_url(sqlite_url).database) as probe:
            page = probe.execute("PRAGMA page_size").fetchone()[0]
        frames = os.path.getsize(wal) / (page + 24)
    finally:
        await db.dispose()
    assert frames < 300, f"the log holds {frames:.0f} frames after 600 commits of ~2 pages"


async def test_the_checkpointer_syncs_the_database_file_before_it_holds_the_writers(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Syncing is what takes long in a pass (10–14 ms held at 1,000,000 stored before): the passes with
    writers going on sync the database file themselves, and run again while the writers keep adding to
    the log, so that the pass with the writers held has only the last few commits to copy and sync."""
    db = Database(sqlite_url)
    checkpointer = db._checkpointer
    assert checkpointer is not None and checkpointer.writers is not None
    checkpointer.every, checkpointer.settled, checkpointer.catch_up = 8, 1, 3  # catch up while any frame came
    calls: list[tuple[str, bool]] = []  # (what, with the writers held by the checkpointer)
    checkpoint, datasync = checkpointer.checkpoint, sqlite_driver._datasync

    class Held:
        """The Database's write lock, as the checkpointer takes it: noting when it holds it."""

        def __init__(self, lock: asyncio.Lock) -> None:
            self.lock, self.now = lock, False

        async def __aenter__(self) -> None:
            await self.lock.acquire()
            self.now = True

        async def __aexit__(self, *exc: object) -> None:
            self.now = False
            self.lock.release()

    held = Held(checkpointer.writers)
    checkpointer.writers = held  # type: ignore[assignment]

    def spy_checkpoint(sync: bool = False) -> int:
        calls.append(("checkpoint, then sync" if sync else "checkpoint", held.now))
        return checkpoint(sync)

    def spy_datasync(fd: int) -> None:
        calls.append(("our sync", held.now))
        datasync(fd)

    monkeypatch.setattr(checkpointer, "checkpoint", spy_checkpoint)
    monkeypatch.setattr(sqlite_driver, "_datasync", spy_datasync)
    try:
        await steady_writes(db, 400)
    finally:
        await db.dispose()
    # Per pass: 1 to catch_up checkpoints with writers going on, each followed by our sync of the
    # database file (c s), then one with the writers held (H), where SQLite syncs what it copied.
    letters = {("checkpoint, then sync", False): "c", ("our sync", False): "s", ("checkpoint", True): "H"}
    trace = "".join(letters.get(call, "?") for call in calls)
    assert "?" not in trace, calls
    passes = re.findall(r"((?:cs)+)H", trace)
    assert len(passes) >= 10 and "".join(p + "H" for p in passes) == trace, trace
    assert all(len(p) <= 2 * checkpointer.catch_up for p in passes), trace
    assert any(len(p) > 2 for p in passes), f"writers kept adding, yet no pass caught up more than once: {trace}"


async def test_the_checkpointer_leaves_an_in_memory_database_alone() -> None:
    """No log and no file to sync: a pass finds nothing to do, and raises nothing to be logged."""
    checkpointer = sqlite_driver.Checkpointer(":memory:")
    try:
        assert checkpointer.checkpoint(sync=True) == -1
    finally:
        await checkpointer.close()


async def test_a_committed_raw_joined_unit_stays_when_a_later_one_rolls_back(db: Database) -> None:
    """A committed raw unit's savepoint is left open on PostgreSQL (no RELEASE round trip): a later unit's rollback
    goes back to its own savepoint only, the ORM may be used again, and the enclosing commit keeps all."""
    project_id, li = await office(db)
    async with db.enclosing() as outer:
        for _ in range(2):
            async with db.uow(orm=False) as joined:
                await log(joined, project_id, li)
                await joined.commit()
        async with db.uow(orm=False) as joined:
            await log(joined, project_id, li)  # not committed: rolled back to its own savepoint
        await outer.counters.bump("malformed_report", "20261123")  # the ORM, after the raw units
        async with db.uow(orm=False) as joined:
            await log(joined, project_id, li)
            await joined.commit()
        await outer.commit()
    assert (await count(db, EventRow), await count(db, DailyCounterRow)) == (3, 1)
    async with db.uow(write=False) as uow:
        links, head = await uow.events.chain(project_id)
    assert head == links[-1].hash and [link.prev_hash for link in links[1:]] == [link.hash for link in links[:-1]]


async def test_a_raw_joined_unit_without_savepoint_takes_none_on_postgresql_and_a_failed_write_loses_all(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``savepoint=False`` (the report path's unit): no SAVEPOINT round trip on PostgreSQL, where a failed
    statement then aborts the enclosing transaction and is raised as TransactionLost, and nothing of it is
    kept. SQLite takes the savepoint anyway (a call there, not a round trip): the failure stays the unit's."""
    project_id, li = await office(db)
    postgres = db.dialect == "postgresql"
    statements: list[str] = []
    for driver in (PostgresSql, SqliteSql):

        async def spy(self: object, stmt: str, *args: object, _execute=driver.execute) -> None:  # type: ignore[no-untyped-def]
            statements.append(stmt)
            await _execute(self, stmt, *args)

        monkeypatch.setattr(driver, "execute", spy)
    async with db.enclosing() as outer:
        await log(outer, project_id, li)  # the project's first event makes its audit head
        with pytest.raises(TransactionLost if postgres else IntegrityError):
            async with db.uow(orm=False, savepoint=False) as joined:
                head = "INSERT INTO audit_head (project_id, last_hash) VALUES ($1, $2)"
                await (await joined.sql()).execute(head, project_id, "x")  # the head exists: refused
        if not postgres:
            await outer.commit()
    assert any(stmt.startswith("SAVEPOINT") for stmt in statements) is not postgres
    assert await count(db, EventRow) == (0 if postgres else 1)
