"""aiosqlite's connection made cheaper for SQLAlchemy: one hop per statement, none for what cannot wait.

aiosqlite runs every call on its own thread, each a trip through the event loop (0.1–0.5 ms of wall
time on a busy machine). SQLAlchemy's adapter makes up to four per statement: open a cursor,
execute, fetch, close. Here a statement is one trip (executed and fetched together); opening and
closing a cursor is none. What takes no lock runs inline, on the event loop's thread: a deferred
``BEGIN``, ``SAVEPOINT``, ``RELEASE``, ``ROLLBACK TO``, ``COMMIT`` and ``ROLLBACK`` (in WAL mode a
commit appends to the log; with synchronous=NORMAL it does not sync). ``BEGIN IMMEDIATE`` is tried
inline without waiting; only when another process holds the write lock does it wait for it on the
thread, under the busy timeout, blocking nobody.

A commit would also checkpoint the log once it is long (wal_autocheckpoint), copying pages into the
database and syncing the disk: that must not happen on the event loop's thread. So these
connections never checkpoint; a ``Checkpointer`` does it on a thread of its own every few hundred
commits (PASSIVE: it waits for no reader or writer), and finishes each pass with this process's
writers held for the 2–3 ms the rest takes, so that the log can start over.

The raw statements of storage/sql.py use ``call``: inline or on the thread, as the caller decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Self

import aiosqlite

log = logging.getLogger(__name__)
Described = tuple[Any, int, Any, list[Any]]  # description, rowcount, lastrowid, rows
_NO_LOCK = ("SAVEPOINT", "RELEASE", "ROLLBACK TO")
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


# Descriptors of database files this process syncs, by (device, inode), open for as long as it runs.
_SYNCED: dict[tuple[int, int], int] = {}
_SYNCED_LOCK = threading.Lock()


def _kept_open(path: str) -> int:
    """A descriptor of the database file to sync through, opened once and never closed.

    SQLite's locks are POSIX locks, and closing any descriptor of a file drops every lock the process holds
    on it, SQLite's shared lock included. A connection of another process that closes then takes itself for
    the last one, checkpoints, and deletes the write-ahead log this process still writes to: its later
    commits would be lost at the next start (tests/storage/test_sqlite_locks.py). One descriptor a file,
    kept: the lock-safe way to sync a file SQLite holds."""
    found = os.stat(path)
    key = (found.st_dev, found.st_ino)
    with _SYNCED_LOCK:
        fd = _SYNCED.get(key)
        if fd is not None and os.fstat(fd).st_nlink == 0:  # a file since deleted, its inode number reused
            os.close(fd)  # nobody can hold a lock on a file that is gone
            fd = None
        if fd is None:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            opened = os.fstat(fd)
            _SYNCED[(opened.st_dev, opened.st_ino)] = fd  # the file it is: replaced since the stat or not
        return fd


def _takes_no_lock(statement: str) -> bool:
    head = statement.lstrip()[:11].upper()
    return head.startswith(_NO_LOCK) or head.rstrip() == "BEGIN" or head.startswith("BEGIN DEFERR")


class Checkpointer:
    """Copies the write-ahead log into the database on a thread of its own, every ``every`` commits.

    SQLite starts the log over only once a checkpoint has copied all of it. A pass that runs while
    writers go on leaves behind what they committed meanwhile, so under a steady stream of writes the
    log would never start over: it grew to 1.3 GB after 24,000 reports here, and every read and commit
    slowed as it grew (1,128 → 886 reports/s). So each pass is finished with this process's writers
    held (``writers``: the Database's write lock): only what was committed during the first part is
    left to copy, and the next write starts the log over (``journal_size_limit`` then cuts the file back).

    What is held up is the syncing, not the copying. A pass syncs the log before it copies, and the
    database file after it copied the whole log; a pass that writers overtook syncs only the log, and
    leaves the pages it copied to whichever pass syncs next. So the pass under the writers synced all
    of the first part's pages: 12–15 ms of 1,000,000 stored reports' index pages (a report dirties ~11
    pages), every 256 commits, with every writer queued. Now the passes before it also sync the
    database file, and run again while the writers add more than ``settled`` frames during one:
    what is left for the held pass is a commit or two of pages, 2–3 ms.
    """

    def __init__(self, path: str, every: int = 256, settled: int = 256, catch_up: int = 4) -> None:
        self.path = path
        self.every = every
        self.settled = settled  # frames committed during a pass, few enough to finish with writers held
        self.catch_up = catch_up  # passes at most with writers going on, before the held one
        self.writers: asyncio.Lock | None = None  # this process's write lock (Database), held to finish a pass
        self._commits = 0
        self._running: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # one checkpoint at a time, also with dispose()
        self._thread: ThreadPoolExecutor | None = None  # made when first needed, shut down by close()
        self._conn: sqlite3.Connection | None = None

    def committed(self) -> None:
        self._commits += 1
        if self._commits >= self.every and (self._running is None or self._running.done()):
            self._commits = 0
            # A context of its own: not the committing unit's (its enclosing transaction, its lock).
            self._running = asyncio.get_running_loop().create_task(self._pass(), context=contextvars.Context())

    async def _pass(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            logged = 0
            for _ in range(self.catch_up):  # most of the log, writers going on
                before, logged = logged, await loop.run_in_executor(self._executor(), self.checkpoint, True)
                if logged - before < self.settled:  # (a log that started over meanwhile: logged < before)
                    break
            if self.writers is not None:
                async with self.writers:  # the rest, with this process's writers queued behind it
                    await loop.run_in_executor(self._executor(), self.checkpoint)
        except Exception:  # the next pass tries again; the log is only longer meanwhile
            log.exception("checkpoint of %s failed", self.path)

    def checkpoint(self, sync: bool = False) -> int:
        """PASSIVE: as much of the log as no reader still needs; blocks no one. ``sync``: then sync the
        database file too (SQLite does only when it copied the whole log). The frames in the log."""
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            _busy, logged, _copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if sync and logged >= 0:  # -1: no log to copy (an in-memory database)
                _datasync(_kept_open(self.path))
        return int(logged)

    async def close(self) -> None:
        if self._running is not None:
            with contextlib.suppress(Exception):
                await self._running
        # The last connection to close checkpoints the whole log: on a thread, like every checkpoint.
        await asyncio.get_running_loop().run_in_executor(self._executor(), self._close)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)

    def _executor(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-checkpoint")
        return self._thread

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class Connection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors SQLAlchemy can use at one hop per statement."""

    def __init__(self, path: str, busy_timeout_ms: int, checkpointer: Checkpointer) -> None:
        def connector() -> sqlite3.Connection:
            # check_same_thread off: inline calls come from the event loop's thread, never at the same time.
            conn = sqlite3.connect(path, timeout=busy_timeout_ms / 1000, check_same_thread=False)
            conn.execute("PRAGMA wal_autocheckpoint = 0").close()  # the Checkpointer does it, off the loop
            return conn

        super().__init__(connector, iter_chunk_size=64)
        self._thread.daemon = True
        self.busy_timeout_ms = busy_timeout_ms
        self._checkpointer = checkpointer

    @property
    def sqlite(self) -> sqlite3.Connection:
        return self._conn

    async def call(self, fn: Callable[..., Any], *args: Any, inline: bool = False) -> Any:
        """fn(*args) with the sqlite3 connection: inline (it must not wait for a lock), else on its thread."""
        if inline:
            return fn(*args)
        return await self._execute(fn, *args)  # type: ignore[no-untyped-call]  # aiosqlite leaves it unannotated

    def cursor(self) -> Cursor:  # type: ignore[override]  # ours is made at once; aiosqlite's is awaited
        return Cursor(self)

    async def commit(self) -> None:
        """Inline: a WAL commit that never checkpoints writes the log and does not sync."""
        if self._conn.in_transaction:
            self._conn.commit()
            self._checkpointer.committed()

    async def rollback(self) -> None:
        if self._connection is not None:
            self._conn.rollback()

    async def begin(self, *, immediate: bool) -> None:
        """BEGIN IMMEDIATE (a writer) or a deferred BEGIN (a reader, which takes no lock: inline)."""
        if not immediate:
            self._conn.execute("BEGIN").close()
        elif not self._begin_immediate_now():
            await self.call(self._run, "BEGIN IMMEDIATE", ())  # another process writes: wait on the thread

    async def statement(self, sql: str, parameters: Sequence[Any]) -> Described:
        if sql.lstrip()[:15].upper().startswith("BEGIN IMMEDIATE") and self._begin_immediate_now():
            return None, -1, None, []
        described: Described = await self.call(self._run, sql, parameters, inline=_takes_no_lock(sql))
        return described

    def _begin_immediate_now(self) -> bool:
        """BEGIN IMMEDIATE if the write lock is free this instant; False when someone else holds it."""
        conn = self._conn
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")

    def _run(self, sql: str, parameters: Sequence[Any]) -> Described:
        cursor = self._conn.cursor()
        try:
            cursor.execute(sql, parameters)
            rows = cursor.fetchall() if cursor.description else []
            return cursor.description, cursor.rowcount, cursor.lastrowid, rows
        finally:
            cursor.close()

    def _run_many(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Described:
        cursor = self._conn.cursor()
        try:
            cursor.executemany(sql, parameters)
            return None, cursor.rowcount, cursor.lastrowid, []
        finally:
            cursor.close()


class Cursor:
    """What SQLAlchemy's aiosqlite adapter asks of a cursor, with the rows fetched along with the execute."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: Any = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        described = await self._connection.statement(sql, parameters)
        self.description, self.rowcount, self.lastrowid, self._rows = described
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        run = partial(self._connection._run_many, sql, list(parameters))
        self.description, self.rowcount, self.lastrowid, self._rows = await self._connection.call(run)
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []
