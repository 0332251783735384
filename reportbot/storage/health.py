"""Is the database there? An outage told from a bug, and an outage waited out.

A failure while a message is handled is one of two kinds, told apart by what it is, never by counting:

* an **outage**: the database cannot be reached or cannot take a write now — connection refused, reset
  or closed by the server, the server shutting down, starting up or failing over (read-only), too many
  connections, disk full, SQLite's ``database is locked`` after the busy timeout. Nothing is wrong with
  the message: it stays unconfirmed and is handled once the database answers (``Watch.wait_until_up``).
* anything else, while the database answers a cheap probe: the message itself fails (a bug, an input
  nobody foresaw). Only such a message may be set aside (handlers/deadletters.py).

``is_outage`` reads the exception and everything it was raised from or during (SQLAlchemy's wrapper,
the driver's error, a rollback that failed on the dead connection); ``probe`` asks the database
itself, for what no class says (a timeout, an error of a kind nobody listed). Connections the server
closed are dropped by the pool when they are next checked out (storage/db.py), and all of them once
an outage is seen (``Database.drop_connections``), so none is handed out again after the server is back.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from reportbot.storage.db import Database

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 5.0  # seconds a probe may take before the database counts as not answering
SQLITE_PROBE_BUSY_MS = 2000  # how long the probe waits for another process's write lock
FIRST_PAUSE, MAX_PAUSE = 0.25, 1.0  # the back-off between probes while the database is away

# SQLite's primary result codes that mean "the database file, not this statement": busy or locked past the
# busy timeout, disk full, an I/O error, the file cannot be opened, or is read-only (a full or remounted disk).
_SQLITE_OUTAGE = {
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PROTOCOL,
}
# PostgreSQL's SQLSTATE classes and codes of an outage: 08 connection exception, 53 insufficient resources
# (too many connections, disk full, out of memory), 57P01–57P05 shutdown, crash, starting up, database
# dropped, idle session closed, 25006 read-only transaction (a standby after a failover), 25P03 idle in
# transaction closed. Not 57014 (statement timeout): a statement that is too slow is this message's fault.
_PG_OUTAGE_CLASSES = ("08", "53")
_PG_OUTAGE_CODES = {"57P01", "57P02", "57P03", "57P04", "57P05", "25006", "25P03"}
_CLOSED_WORDS = ("connection is closed", "connection was closed", "the underlying connection is closed")


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from or during) says the database is away, not the message."""
    return any(_says_outage(e) for e in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (e.__cause__, e.__context__, getattr(e, "orig", None)) if isinstance(x, BaseException))


def _says_outage(e: BaseException) -> bool:
    if isinstance(e, OSError | asyncio.TimeoutError):  # refused, reset, unreachable, DNS, a connect timeout
        return True
    if isinstance(e, sa_exc.DisconnectionError | sa_exc.TimeoutError):  # a dead connection, the pool exhausted
        return True
    if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
        return True
    if isinstance(e, sa_exc.InvalidRequestError) and "connection is closed" in str(e).lower():
        return True
    if isinstance(e, sqlite3.OperationalError | sqlite3.DatabaseError):
        code = getattr(e, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_OUTAGE
        words = str(e).lower()
        return any(w in words for w in ("database is locked", "disk is full", "disk i/o error", "unable to open"))
    sqlstate = getattr(e, "sqlstate", None)
    if isinstance(sqlstate, str) and type(e).__module__.startswith("asyncpg"):
        return sqlstate[:2] in _PG_OUTAGE_CLASSES or sqlstate in _PG_OUTAGE_CODES
    if type(e).__module__.startswith("asyncpg"):
        name = type(e).__name__
        # A connection whose protocol state a terminated session left confused ("another operation is in
        # progress") is as unusable as a closed one.
        if name in ("ConnectionDoesNotExistError", "InternalClientError"):
            return True
        if name == "InterfaceError":
            return any(w in str(e).lower() for w in _CLOSED_WORDS)
    return False


def describe(url: str) -> str:
    """Which database, in words, without the password: 'PostgreSQL 127.0.0.1:5432（数据库 test）'."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ":memory:"
        shown = path if path == ":memory:" or path.startswith("file:") else str(Path(path).expanduser().absolute())
        return f"SQLite 文件 {shown}"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return f"PostgreSQL {host}:{port}（数据库 {parsed.database or '-'}，用户 {parsed.username or '-'}）"


def advice(url: str) -> str:
    """What a person can check, for the database ``url`` names."""
    if make_url(url).get_backend_name() == "sqlite":
        return "请检查：文件所在目录是否存在且可写、磁盘是否已满、是否有别的程序长时间锁住了这个文件。"
    return ("请检查：PostgreSQL 是否已启动（pg_isready）、DATABASE_URL 里的主机、端口、数据库名和用户是否正确、"
            "防火墙是否放行、连接数是否已满、磁盘是否已满。")


def reason(exc: BaseException) -> str:
    """The deepest cause of ``exc`` in one line, for a person: 'ConnectionRefusedError: [Errno 111] …'."""
    innermost = exc
    for e in _chain(exc):
        if _says_outage(e):
            innermost = e
    words = " ".join(str(innermost).split()) or type(innermost).__name__
    return f"{type(innermost).__name__}: {words}"[:200]


def unreachable(url: str, exc: BaseException) -> str:
    """One sentence for a person: which database cannot be reached, why, and what to check."""
    return f"无法连接数据库 {describe(url)}：{reason(exc)}。{advice(url)}"


@dataclass(frozen=True)
class Probe:
    ok: bool
    round_trip_ms: float | None = None
    problem: str | None = None  # why not ok, in one line


async def probe(db: Database, timeout: float = PROBE_TIMEOUT) -> Probe:
    """Can the database take a write now? PostgreSQL: a round trip, not read-only. SQLite: the write lock."""
    started = time.perf_counter()
    try:
        if db.is_sqlite:
            await asyncio.wait_for(_probe_sqlite(db), timeout)
        else:
            read_only = await asyncio.wait_for(_probe_postgres(db), timeout)
            if read_only:
                return Probe(False, _ms(started), "the server is read-only (a standby: failover under way?)")
    except Exception as exc:  # noqa: BLE001 — whatever it is, the database did not answer as it should
        return Probe(False, None, reason(exc))
    return Probe(True, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


async def _probe_postgres(db: Database) -> bool:
    async with db.write_engine.connect() as conn:
        value: str = (await conn.execute(text("SELECT current_setting('transaction_read_only')"))).scalar_one()
        await conn.rollback()
    return value == "on"


async def _probe_sqlite(db: Database) -> None:
    path = make_url(db.url).database or ":memory:"
    if path == ":memory:" or path.startswith("file:"):
        return

    def take_and_release() -> None:
        conn = sqlite3.connect(f"file:{Path(path).expanduser().absolute()}?mode=rw", uri=True,
                               timeout=SQLITE_PROBE_BUSY_MS / 1000, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    # Under this process's own write lock: the probe asks about other processes, not our own writers.
    async with db.write_lock():
        await asyncio.to_thread(take_and_release)


class Verdict(enum.Enum):
    OUTAGE = "outage"  # the database does not answer: wait, then handle the message again, uncounted
    BLIP = "blip"  # the connection failed but the database answers: try again at once (counted)
    FAILURE = "failure"  # the database answers and the message failed: counted, then set aside


class Watch:
    """Waits out an outage: one prober for every waiter, with a capped back-off; logs it once each way."""

    def __init__(self, db: Database, *, first_pause: float = FIRST_PAUSE, max_pause: float = MAX_PAUSE) -> None:
        self.db = db
        self.first_pause = first_pause
        self.max_pause = max_pause
        self.down_since: float | None = None  # time.monotonic() of the outage's start; None while up
        self.outages = 0
        self._up = asyncio.Event()
        self._up.set()
        self._prober: asyncio.Task[None] | None = None
        # Run once the database is back, before what waited is handled again (a transport sends the answers
        # an outage may have left stored but unsent: a commit that went through while its reply was lost).
        self.on_recovery: list[Callable[[], Awaitable[object]]] = []

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    async def outage(self, exc: BaseException) -> None:
        """The database is away: note it, drop the pool's connections, start probing until it is back."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            self._up.clear()
            log.warning("数据库暂时不可用 / the database is unavailable: %s — %s; nothing is skipped, "
                        "waiting for it", describe(self.db.url), reason(exc))
            await self.db.drop_connections()
        if self._prober is None or self._prober.done():
            self._prober = asyncio.create_task(self._probe_until_up(), name="database-watch")

    async def classify(self, exc: BaseException) -> Verdict:
        """What a failure was: an outage (now watched until it ends), a dropped connection, or the message's own.

        The class says whether the connection or the server failed; the probe whether the database answers
        now. A failure of the connection's kind while the database answers (a connection the server closed
        earlier, found on its next use) is a ``BLIP``: its connections are dropped and it is tried again.
        """
        connection_failed = is_outage(exc)
        if connection_failed:
            await self.db.drop_connections()
        found = await probe(self.db)
        if not found.ok:
            await self.outage(exc)
            return Verdict.OUTAGE
        return Verdict.BLIP if connection_failed else Verdict.FAILURE

    async def wait_until_up(self, stop: asyncio.Event | None = None, timeout: float | None = None) -> bool:
        """Until the database answers (True), ``stop`` is set or ``timeout`` seconds pass (False)."""
        if self._up.is_set():
            return True
        waits = [asyncio.ensure_future(self._up.wait())]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return self._up.is_set()

    async def _probe_until_up(self) -> None:
        pause = self.first_pause
        while True:
            await asyncio.sleep(pause)
            found = await probe(self.db)
            if found.ok:
                break
            pause = min(pause * 2, self.max_pause)
        lasted = time.monotonic() - (self.down_since or time.monotonic())
        log.warning("数据库已恢复 / the database is back after %.1f s (round trip %.1f ms): handling what waited, "
                    "in order", lasted, found.round_trip_ms or 0.0)
        for work in self.on_recovery:
            try:
                await work()
            except Exception:
                log.warning("a step after the database came back failed", exc_info=True)
        self.down_since = None
        self._up.set()

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            await asyncio.gather(self._prober, return_exceptions=True)


def reach(url: str, timeout: float = PROBE_TIMEOUT) -> BaseException | None:
    """Can a connection be made at all? None, or what stopped it. Blocking: for the command line, before
    anything else touches the database (a missing SQLite file is created later, by the migrations)."""
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database or ":memory:"
            if path == ":memory:" or path.startswith("file:"):
                return None
            folder = Path(path).expanduser().absolute().parent
            folder.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(str(Path(path).expanduser()), timeout=timeout) as conn:
                conn.execute("SELECT 1").fetchone()
            return None
        asyncio.run(_reach_postgres(url, timeout))
    except Exception as exc:  # noqa: BLE001 — the caller says it in words
        return exc
    return None


async def _reach_postgres(url: str, timeout: float) -> None:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=timeout)
    try:
        await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
