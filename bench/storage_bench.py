"""Storage: the report pipeline beside bare-transaction floors, on SQLite and PostgreSQL, in one run.

Every database is made here (SQLite files in a temporary directory, PostgreSQL databases named
``reportbot_bench_<random>``), migrated with alembic and removed at the end, even on error.
``python -m bench.storage_bench URL FIRST REPORTS QUERIES SECONDS`` is the footprint child process:
it answers REPORTS reports and QUERIES ``/who`` (each phase capped at SECONDS) and prints its peak RSS
as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import queue
import resource
import secrets
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import asyncpg
from sqlalchemy.engine import make_url

from bench.common import Row, Stat, percentile, timed_calls
from bench.sweep_bench import sweep_rows
from reportbot.bot import polling
from reportbot.handlers import delivery, directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.messages import Incoming, Send
from reportbot.handlers.render import Renderer
from reportbot.handlers.report import planned_reminders
from reportbot.handlers.router import handle_message
from reportbot.rules.audit import GENESIS, event_hash, personal_digest
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from reportbot.storage.deliveries import DeliveryRepository
from reportbot.storage.migrate import upgrade
from reportbot.storage.report_filing import NewReport
from reportbot.storage.reports import ReportRepository
from reportbot.storage.sql import PostgresSql
from reportbot.storage.tables import ACTIVE_SQL
from tests.storage.pg_socket import unix_socket_url
from tests.storage.race import REPORTED_AT, SURNAMES, TEAM, canvasser, register

SECTION = "storage"
ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_DSN = os.environ.get("REPORTBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SQLITE, POSTGRES = "SQLite", "PostgreSQL"

# The office: race.py's project and 200 canvassers, four more projects, one assistant for /who.
CANVASSERS = 200
PROJECTS = ("开盘楼盘", "森林半岛", "滨江花园", "云溪府", "锦绣城")
ASSISTANT = NewStaff("周助理", TEAM, "assistant", "4000", project=PROJECTS[0])
REGISTERED_AT = REPORTED_AT - timedelta(days=120)
# The per-canvasser limit (50) is lifted: 1,000,000 stored reports leave ~100 active per canvasser.
POLICY = replace(Policy(), max_active_reports_per_canvasser=10**9)
REPORT_TEXT = "报备 客户：张先生 电话：{phone} 队名：" + TEAM + " 拓客：{name} 到访：明天下午3点"
RACERS = 200
MESSAGE_IDS = itertools.count(1)  # Telegram's message ids in the delivery keys: every report is a new message

# Stored history: 90 days before the bench day; reports of the last 7 days are 1 in 4 active (≈ 2%).
# Every report has its 'reported' event, chained per project as the bot chains them; every visited
# report its visit (owned for the lapse period, lapsed to the office after it).
STORED_DAYS = 90
ACTIVE_DAYS = 7
LAPSE_DAYS = Policy().ownership_lapse_days
FIRST_DAY = REPORTED_AT.replace(hour=0, minute=0) - timedelta(days=STORED_DAYS)
INACTIVE = ("expired", "rejected", "visited")
ACTIVE = ("pending", "confirmed")

# The bare transaction: "look up (project, masked phone) among active reports, insert if free, commit".
BARE_COLUMNS = (
    "project_id", "phone", "receipt_no", "customer", "team", "canvasser_id", "filed_by_id",
    "appointment_at", "reported_at", "valid_until", "status", "source_channel", "source_chat",
)  # fmt: skip
REPORT_COLUMNS = ("id", *BARE_COLUMNS)
EVENT_COLUMNS = (
    "id", "project_id", "phone", "report_id", "kind", "actor_id", "at", "prev_hash", "hash", "salt", "personal_digest",
)  # fmt: skip
HEAD_COLUMNS = ("project_id", "last_hash")
VISIT_COLUMNS = (
    "project_id", "phone", "at", "registered_by_id", "companions", "rule", "owner_id", "report_id",
    "last_activity_at", "lapsed_at",
)  # fmt: skip
BARE_TIMES = (REPORTED_AT + timedelta(hours=29), REPORTED_AT, REPORTED_AT + timedelta(days=8))
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")

# Names of the workloads, as the table shows them.
PIPELINE, PIPELINE_8 = "pipeline, 1 caller", "pipeline, 8 concurrent callers"
# The same, spread over the five projects (each report sent in its project's group): a project's
# writers queue on its receipt counter and audit-chain head; writers of different projects do not.
PIPELINE_8_SPREAD = "pipeline, 8 concurrent callers, 5 projects"
SQLITE3, AIOSQLITE = "bare tx, stdlib sqlite3", "bare tx, aiosqlite"
ASYNCPG_1, ASYNCPG_8 = "bare tx, asyncpg 1 connection", "bare tx, asyncpg 8 connections"
# Not the issue's floor: a report's own writes, through the report path's own statements, bare.
ASYNCPG_8_WRITES = "a report's statements, bare, asyncpg 8 connections"
# PostgreSQL is measured over its Unix socket when the server has one here, as a bot on the database's
# machine connects (docs/performance.md); the 8-connection loads are repeated over TCP loopback, under
# their names with this suffix (the table shows the transport beside the database instead).
OVER_TCP = " over TCP"
PIPELINE_RACE, FLOOR_RACE = "race via pipeline", "race via bare tx"
PIPELINE_GROUPED = (
    f"pipeline, 1 caller, groups of up to {polling.GROUP} or {polling.GROUP_SECONDS * 1000:g} ms in one "
    "transaction (as bot/polling.py)"
)
ISSUE_FIGURES = {
    SQLITE3: "issue: ≈ 32,000/s, p99 ≈ 60 µs",
    AIOSQLITE: "issue: ≈ 1,900/s, p99 ≈ 0.9 ms",
    ASYNCPG_1: "issue: ≈ 1,400/s",
    ASYNCPG_8: "issue: ≈ 5,000/s",
}

Values = tuple[object, ...]
Sample = tuple[float, list[float]]  # one repetition: operations per second, latencies in ms


@dataclass(frozen=True)
class Plan:
    """How much of everything one mode does."""

    stored_levels: tuple[int, ...]
    reps: int = 5
    seconds_per_rep: float = 2.5  # each load does as many operations as fit, within the counts below
    pipeline_reports: int = 1000
    floor_reports: int = 5000
    race_reps: int = 3
    footprint_reps: int = 1  # peak RSS barely moves between runs, and a run costs ~30 s
    footprint_reports: int = 1000
    footprint_queries: int = 100
    footprint_seconds: float = 60  # per phase: at 1,000,000 stored a report can take a second


PLANS = {False: Plan((0,)), True: Plan((0, 1_000_000), seconds_per_rep=3, pipeline_reports=2000)}
WARMUP = 10  # operations (or racers) before a load is measured
MIN_COUNT = 20  # operations per repetition, however slow the load


def phone_text(n: int) -> str:
    """Distinct masked phone n (0 ≤ n < 7,000,000): prefixes 130–199 × 100,000 suffixes."""
    return f"{130 + n // 100_000}***{n % 100_000:05d}"


def sqlite_time(at: datetime) -> str:
    """An aware datetime as SQLAlchemy stores it on SQLite (naive UTC text with microseconds)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def as_is(at: datetime) -> datetime:
    """An aware datetime as asyncpg sends it to a timestamptz column."""
    return at


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy postgresql+asyncpg URL as asyncpg itself takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@dataclass
class Ledger:
    """A migrated database with the bench office registered and ``stored`` past reports in it."""

    kind: str
    url: str
    stored: int
    project_ids: list[int]
    canvasser_ids: list[int]
    generation_s: float | None = None
    tcp_url: str | None = None  # PostgreSQL: the same database over TCP when ``url`` is its Unix socket
    heads: dict[int, str] = field(default_factory=dict)  # each project's audit chain head after the history
    _next_phone: int = 0
    _next_receipt: int = 0
    _times: Values = field(default=())

    def __post_init__(self) -> None:
        self._next_phone = self.stored  # stored report n has phone n
        self._times = tuple(self.stamp(t) for t in BARE_TIMES)

    @property
    def stamp(self) -> Callable[[datetime], object]:
        return sqlite_time if self.kind == SQLITE else as_is

    @property
    def path(self) -> str:
        return str(make_url(self.url).database)

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.url)

    @property
    def tcp_dsn(self) -> str | None:
        return asyncpg_dsn(self.tcp_url) if self.tcp_url else None

    def take_phones(self, count: int = 1) -> int:
        """Reserve ``count`` new customers; the first one's number."""
        first, self._next_phone = self._next_phone, self._next_phone + count
        return first

    def bare_values(self, i: int, phone: str | None = None) -> Values:
        """Bare report i (BARE_COLUMNS order): canvasser i mod 200, a new customer unless given."""
        staff_id = self.canvasser_ids[i % CANVASSERS]
        self._next_receipt += 1
        phone = phone or phone_text(self.take_phones())
        appointment, reported, valid_until = self._times
        return (
            self.project_ids[0], phone, f"FL-{self._next_receipt:08d}", "张先生", TEAM, staff_id, staff_id,
            appointment, reported, valid_until, "pending", "telegram", str(5000 + i % CANVASSERS),
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass(frozen=True)
class Load:
    """A workload: ``run(count)`` does count operations and returns (per second, latencies in ms)."""

    run: Callable[[int], Awaitable[Sample]]
    count: int
    failures: Counter[str] = field(default_factory=Counter)  # answers that were errors, by message


@dataclass(frozen=True)
class Measured:
    """Throughput and latency percentiles over the repetitions of one load."""

    rate: Stat
    p50: Stat
    p99: Stat
    worst: Stat
    count: int  # operations per repetition
    cpu: Stat  # this process's CPU time per operation, ms (the database server's is not in it)
    server_cpu: Stat | None = None  # the PostgreSQL server's, every process of it, per operation, ms
    both_cpu: Stat | None = None  # this process's and the server's together, repetition by repetition

    @classmethod
    def of(
        cls, samples: list[Sample], cpu_ms: list[float], server_cpu_ms: list[float] | None = None
    ) -> Measured:
        def over(pick: Callable[[list[float]], float]) -> Stat:
            return Stat.of([pick(latencies) for _, latencies in samples])

        return cls(
            Stat.of([rate for rate, _ in samples]),
            over(lambda s: percentile(s, 50)),
            over(lambda s: percentile(s, 99)),
            over(max),
            len(samples[0][1]),
            Stat.of(cpu_ms),
            Stat.of(server_cpu_ms) if server_cpu_ms else None,
            Stat.of([here + server for here, server in zip(cpu_ms, server_cpu_ms, strict=True)])
            if server_cpu_ms else None,
        )  # fmt: skip


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """User + system CPU of every PostgreSQL server process on this machine so far, in seconds, with
    what its exited backends left in the postmaster's account; None where /proc does not show them.
    Meant for the server the bench runs against on this machine (REPORTBOT_BENCH_PG's default): with
    the database elsewhere and another cluster running here, it would read the wrong one. What the
    server does between two loads (autovacuum, the WAL writer) can land in the next load's window."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid_comm, _, rest = stat.read_text().rpartition(")")
        except OSError:  # gone while listed
            continue
        if pid_comm.endswith("(postgres"):
            fields = rest.split()
            ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime (stat fields 14–17)
    return ticks / CLOCK_TICKS if ticks else None


async def calibrate(load: Load, seconds: float | None) -> int:
    """Warm the load up; the count that takes about ``seconds`` (None: always ``load.count``)."""
    rate, _ = await load.run(min(load.count, WARMUP))
    if seconds is None:
        return load.count
    return max(min(load.count, MIN_COUNT), min(load.count, round(rate * seconds)))


async def measure(
    reps: int, loads: dict[str, Load], seconds: float | None = None,
    before_each: Callable[[], Awaitable[None]] | None = None,
    server_cpu_seconds: Callable[[], float | None] | None = None,
) -> dict[str, Measured]:
    """``reps`` repetitions of every load after a warm-up, interleaved so that drift hits all alike;
    ``before_each`` runs before every measured run of a load, untimed; ``server_cpu_seconds`` reads
    the database server's CPU so far, where it runs beside us as processes of its own."""
    counts = {name: await calibrate(load, seconds) for name, load in loads.items()}
    samples: dict[str, list[Sample]] = {name: [] for name in loads}
    cpu: dict[str, list[float]] = {name: [] for name in loads}
    server_cpu: dict[str, list[float]] = {name: [] for name in loads}
    for _ in range(reps):
        for name, load in loads.items():
            if before_each is not None:
                await before_each()
            server_started = server_cpu_seconds() if server_cpu_seconds else None
            started = time.process_time()
            samples[name].append(await load.run(counts[name]))
            cpu[name].append((time.process_time() - started) * 1000 / counts[name])  # per report, not per group
            if server_started is not None and (server_now := server_cpu_seconds()) is not None:
                server_cpu[name].append((server_now - server_started) * 1000 / counts[name])
    return {  # the server's CPU only where every repetition could read it
        name: Measured.of(s, cpu[name], server_cpu[name] if len(server_cpu[name]) == reps else None)
        for name, s in samples.items()
    }


async def capped_calls(call: Callable[[int], Awaitable[object]], count: int, seconds: float) -> list[float]:
    """call(0..count-1) one after another until ``seconds`` have passed: the latencies in ms."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    for i in range(count):
        if time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        await call(i)
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


async def timed_workers(call: Callable[[int], Awaitable[object]], count: int, workers: int) -> Sample:
    """``count`` calls over ``workers`` concurrent loops (worker w makes calls w, w+workers, …)."""
    if workers == 1:
        return await timed_calls(call, count)

    def worker(w: int) -> Awaitable[Sample]:
        return timed_calls(lambda i: call(w + i * workers), len(range(w, count, workers)))

    start = time.perf_counter()
    parts = await asyncio.gather(*(worker(w) for w in range(workers)))
    elapsed = time.perf_counter() - start
    return count / elapsed, [ms for _, latencies in parts for ms in latencies]


def calls(call: Callable[[int], Awaitable[object]], count: int, workers: int = 1) -> Load:
    return Load(lambda n: timed_workers(call, n, workers), count)


def grouped(call_group: Callable[[int], Awaitable[int]], count: int) -> Load:
    """``count`` reports in groups as bot/polling.py makes them (``call_group`` returns how many it
    handled); a latency is a whole group's: its reports' answers go out once it has committed."""

    async def run(n: int) -> Sample:
        done, g, latencies = 0, 0, []
        start = time.perf_counter()
        while done < n:
            began = time.perf_counter()
            done += await call_group(g)
            latencies.append((time.perf_counter() - began) * 1000)
            g += 1
        return done / (time.perf_counter() - start), latencies

    return Load(run, count)


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


# ---------------------------------------------------------------------------------------------
# Databases


async def analyze(ledger: Ledger) -> None:
    """What autovacuum does each time a table has grown by 10 % (and 50 rows): fresh statistics for
    ``report``, and every connection's cached plans made anew with them. The bench runs it before each
    measured run, since a run adds thousands of reports and autovacuum wakes only once a minute.

    Without it a database that started empty keeps whatever generic plan each connection chose while
    ``report`` held a few rows: an index scan over the whole project (``ix_report_project_customer``,
    filtering by phone) on some connections, and their lookups slowed as the table grew (the 8-connection
    floor fell from ~2,500 to ~400/s over a run, on whichever connections it struck). Analysed only once,
    at 30 rows, it is a seq scan on all of them, with the same end; at 300 rows, the customer's unique index."""
    await pg_admin("ANALYZE report", ledger.dsn)


async def pg_admin(sql: str, dsn: str = PG_ADMIN_DSN) -> None:
    """``sql`` on a connection of its own (by default to the server's admin database)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database(kind: str, stored: int, tmp: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database; a PostgreSQL one is dropped on leaving."""
    if kind == SQLITE:
        yield f"sqlite+aiosqlite:///{tmp / f'ledger-{stored}.db'}"
        return
    name = f"reportbot_bench_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{base}/{name}"
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def services(url: str) -> Services:
    """The bot's services as tests/storage/race.py builds them (with the lifted per-canvasser limit)."""
    return Services(db=Database(url), render=Renderer(POLICY.timezone), policy=POLICY)


async def register_office(kind: str, url: str, stored: int) -> Ledger:
    db = Database(url)
    try:
        await register(db, CANVASSERS, REGISTERED_AT)
        for n, name in enumerate(PROJECTS[1:], 1):
            await directory.add_project(db, name, str(-1009000 - n), None, REGISTERED_AT)
        await directory.add_staff(db, ASSISTANT, REGISTERED_AT)
        projects = {p.name: p.id for p in await directory.list_projects(db)}
        staff = {s.name: s.id for s, _ in await directory.list_staff(db)}
    finally:
        await db.dispose()
    project_ids = [projects[name] for name in PROJECTS]
    return Ledger(kind, url, stored, project_ids, [staff[canvasser(n).name] for n in range(CANVASSERS)])


# ---------------------------------------------------------------------------------------------
# The stored history, generated in bulk


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


def insert_sql(table: str, columns: tuple[str, ...], mark: Callable[[int], str]) -> str:
    marks = ", ".join(mark(n) for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def qmark(_: int) -> str:
    return "?"


def dollar(n: int) -> str:
    return f"${n}"


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


# ---------------------------------------------------------------------------------------------
# The pipeline: a report as the Telegram transport hands it over, in process


def report_message(phone: str, i: int) -> Incoming:
    """Canvasser i mod 200 reports customer ``phone`` in a private chat with the bot, with a delivery key."""
    person = canvasser(i % CANVASSERS)
    assert person.telegram_id
    text = REPORT_TEXT.format(phone=phone, name=person.name)
    key = f"msg:{person.telegram_id}:{os.getpid()}-{next(MESSAGE_IDS)}"  # the footprint child reports too
    return Incoming("telegram", person.telegram_id, person.telegram_id, False, text, REPORTED_AT, str(i), key)


async def answer_report(svc: Services, phone: str, i: int) -> bool:
    """Report i as the Telegram transport hands it over (delivery.handle_once: the key, the use case and
    its answers in the outbox, one transaction): True for a receipt, False for a duplicate."""
    msg = report_message(phone, i)
    handled = await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))
    actions = [q.action for q in handled.answers]
    answer = actions[0].text if actions and isinstance(actions[0], Send) else repr(actions)
    assert "回执号" in answer or "撞单" in answer, answer
    return "回执号" in answer


async def send_group_report(svc: Services, phone: str, i: int) -> None:
    """Report i sent in the group of project i mod 5 (as registered: -1009000 - n): the card must come back."""
    person = canvasser(i % CANVASSERS)
    assert person.telegram_id
    text = REPORT_TEXT.format(phone=phone, name=person.name)
    group = str(-1009000 - i % len(PROJECTS))
    key = f"msg:{group}:{os.getpid()}-{next(MESSAGE_IDS)}"
    msg = Incoming("telegram", person.telegram_id, group, True, text, REPORTED_AT, str(i), key)
    handled = await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))
    cards = [q.action.text for q in handled.answers if isinstance(q.action, Send) and q.action.chat_id == group]
    assert cards and "BB-" in cards[-1], handled


async def send_report(svc: Services, phone: str, i: int) -> None:
    """Report i of a new customer; a receipt must come back."""
    assert await answer_report(svc, phone, i)


async def ask_who(svc: Services, phone: str) -> None:
    """The assistant asks /who about a customer; the answer must name the customer."""
    assert ASSISTANT.telegram_id
    user = ASSISTANT.telegram_id
    actions = await handle_message(Incoming("telegram", user, user, False, f"/who {phone}", REPORTED_AT), svc)
    assert isinstance(actions[0], Send) and phone in actions[0].text, actions


def pipeline_loads(svc: Services, ledger: Ledger, plan: Plan, tcp: Services | None = None) -> dict[str, Load]:
    """The pipeline's loads; ``tcp``: the same services over TCP, for the 8-caller loads' second run."""
    # After each report (or group) the load yields to the event loop once, as the bot does when it
    # awaits the network between updates. On SQLite nothing in a report awaits I/O, so without it the
    # loop's other work never ran: the checkpointer never copied the log, and the log grew all run long.
    def one_via(over: Services) -> Callable[[int], Awaitable[None]]:
        async def one(i: int) -> None:
            await send_report(over, phone_text(ledger.take_phones()), i)
            await asyncio.sleep(0)

        return one

    one = one_via(svc)

    async def answer_all(count: int) -> Answers:
        """As tests/storage/race.py report_all, but a new customer each time (a re-report needs a reason)."""
        phone = phone_text(ledger.take_phones())
        return await asyncio.gather(
            *(answer_report(svc, phone, n) for n in range(count)), return_exceptions=True
        )

    async def one_group(g: int) -> int:
        """As bot/polling.py's _in_one_transaction: up to GROUP reports, or fewer once GROUP_SECONDS passed."""
        started, done = time.perf_counter(), 0
        async with delivery.batch(svc.db):
            while done < polling.GROUP:
                await send_report(svc, phone_text(ledger.take_phones()), g * polling.GROUP + done)
                done += 1
                if time.perf_counter() - started >= polling.GROUP_SECONDS:
                    break
        await asyncio.sleep(0)
        return done

    loads = {
        PIPELINE: calls(one, plan.pipeline_reports),
        PIPELINE_GROUPED: grouped(one_group, plan.pipeline_reports),
        PIPELINE_RACE: race(answer_all),
    }
    if ledger.kind == POSTGRES:
        for over, via in ((svc, ""), (tcp, OVER_TCP)):
            if over is None:
                continue
            loads[PIPELINE_8 + via] = calls(one_via(over), plan.pipeline_reports, workers=8)
            loads[PIPELINE_8_SPREAD + via] = calls(
                lambda i, s=over: send_group_report(s, phone_text(ledger.take_phones()), i), plan.pipeline_reports,
                workers=8,
            )  # fmt: skip
    return loads


# ---------------------------------------------------------------------------------------------
# The floors: the same logical transaction, bare


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


def pooled_sqlite3_tx(conns: queue.Queue[sqlite3.Connection], values: Values) -> bool:
    conn = conns.get()
    try:
        return sqlite3_tx(conn, values)
    finally:
        conns.put(conn)


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
    threads = stack.enter_context(ThreadPoolExecutor(10, thread_name_prefix="bench-sqlite"))
    conns: queue.Queue[sqlite3.Connection] = queue.Queue()
    for _ in range(10):
        conns.put(stack.enter_context(contextlib.closing(sqlite3_connect(ledger.path))))

    async def plain_one(i: int) -> None:
        sqlite3_tx(plain, ledger.bare_values(i))

    async def aio_one(i: int) -> None:
        await aiosqlite_tx(aio, ledger.bare_values(i))

    async def answer_all(count: int) -> Answers:
        loop, phone = asyncio.get_running_loop(), phone_text(ledger.take_phones())
        jobs = [
            loop.run_in_executor(threads, pooled_sqlite3_tx, conns, ledger.bare_values(i, phone))
            for i in range(count)
        ]
        return await asyncio.gather(*jobs, return_exceptions=True)

    return {
        SQLITE3: calls(plain_one, plan.floor_reports),
        AIOSQLITE: calls(aio_one, plan.floor_reports),
        FLOOR_RACE: race(answer_all),
    }


async def postgres_floors(ledger: Ledger, plan: Plan, stack: contextlib.AsyncExitStack) -> dict[str, Load]:
    conns = [await asyncpg.connect(ledger.dsn) for _ in range(8)]
    for conn in conns:
        stack.push_async_callback(conn.close)
    pool = await asyncpg.create_pool(ledger.dsn, min_size=10, max_size=10)
    stack.push_async_callback(pool.close)

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

    async def answer_all(count: int) -> Answers:
        phone = phone_text(ledger.take_phones())

        async def answer(i: int) -> bool:
            async with pool.acquire() as conn:
                return await asyncpg_tx(conn, ledger.bare_values(i, phone))

        return await asyncio.gather(*(answer(i) for i in range(count)), return_exceptions=True)

    return {
        ASYNCPG_1: calls(lambda i: asyncpg_tx(conns[0], ledger.bare_values(i)), plan.floor_reports),
        ASYNCPG_8: calls(one, plan.floor_reports, workers=8),
        ASYNCPG_8_WRITES: calls(lambda i: asyncpg_report_tx(conns[i % 8], ledger, i), plan.floor_reports, workers=8),
        FLOOR_RACE: race(answer_all),
        **over_tcp,
    }


FLOORS = {SQLITE: sqlite_floors, POSTGRES: postgres_floors}


# ---------------------------------------------------------------------------------------------
# Footprint: a child process, so that its peak RSS is the bot's alone


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, since Linux carries the spawning parent's peak into ru_maxrss."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def footprint_child(
    url: str, first: int, reports: int, queries: int, seconds: float
) -> dict[str, float]:
    """Services built, then reports and /who answered (each phase capped at ``seconds``): peak RSS."""
    svc = services(url)
    stack_mb = peak_rss_mb()
    try:
        done = len(await capped_calls(lambda i: send_report(svc, phone_text(first + i), i), reports, seconds))
        step = max(1, done // queries)
        who = await capped_calls(
            lambda q: ask_who(svc, phone_text(first + q * step % done)), queries, seconds
        )
    finally:
        await svc.db.dispose()
    return {"stack_mb": stack_mb, "peak_mb": peak_rss_mb(), "reports": done, "queries": len(who),
            "who_p50_ms": percentile(who, 50), "who_p99_ms": percentile(who, 99)}  # fmt: skip


async def footprint_once(ledger: Ledger, plan: Plan) -> dict[str, float]:
    first = ledger.take_phones(plan.footprint_reports)
    numbers = (first, plan.footprint_reports, plan.footprint_queries, plan.footprint_seconds)
    args = [ledger.url, *map(str, numbers)]
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.storage_bench", *args, cwd=ROOT, env={**os.environ, "PYTHONPATH": path},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await child.communicate()
    if child.returncode:
        raise RuntimeError(f"footprint child failed: {err.decode()[-2000:]}")
    return dict(json.loads(out))


async def footprint(ledger: Ledger, plan: Plan) -> dict[str, Stat]:
    runs = [await footprint_once(ledger, plan) for _ in range(plan.footprint_reps)]
    return {key: Stat.of([r[key] for r in runs]) for key in runs[0]}


# ---------------------------------------------------------------------------------------------
# Rows


def where(ledger: Ledger, load: str = "") -> str:
    """The database the rows of ``load`` ran on, and how it was reached when both ways were measured."""
    over = "" if ledger.tcp_url is None else " (TCP loopback)" if load.endswith(OVER_TCP) else " (Unix socket)"
    return f"{ledger.kind}{over}, {ledger.stored:,} stored"


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


def footprint_rows(ledger: Ledger, plan: Plan, fp: dict[str, Stat]) -> list[Row]:
    work = f"{fp['reports'].median:,.0f} reports + {fp['queries'].median:,.0f} /who"
    note = "child process, VmHWM"
    if (fp["reports"].low, fp["queries"].low) < (plan.footprint_reports, plan.footprint_queries):
        planned = f"{plan.footprint_reports:,} + {plan.footprint_queries}"
        note += f"; only these of {planned} fit the {plan.footprint_seconds:.0f} s cap per phase"
    return [
        Row(SECTION, f"peak RSS after {work} — {where(ledger)}", fp["peak_mb"], "MB", "services built, idle",
            fp["stack_mb"], "< 150 MB", note, higher_is_better=False),
        Row(SECTION, f"/who p50 (in the footprint run) — {where(ledger)}", fp["who_p50_ms"], "ms",
            note=f"p99 {fp['who_p99_ms'].show(2)} ms", higher_is_better=False),
    ]  # fmt: skip


def generation_rows(ledger: Ledger) -> list[Row]:
    if ledger.generation_s is None:
        return []
    note = f"{ledger.stored:,} reports, their chained events, a visit per visited report, in {ledger.generation_s:.1f} s"
    how = "sqlite3 executemany, one transaction" if ledger.kind == SQLITE else "asyncpg COPY + ANALYZE"
    rate = Stat.of([ledger.stored / ledger.generation_s])
    return [Row(SECTION, f"generate stored history — {where(ledger)}", rate, "reports/s", how, note=note)]




# ---------------------------------------------------------------------------------------------
# The section


async def ledger_rows(ledger: Ledger, plan: Plan) -> list[Row]:
    """Everything measured on one database: footprint first (on the untouched ledger), then the loads."""
    fp = await footprint(ledger, plan)
    svc = services(ledger.url)
    tcp = services(ledger.tcp_url) if ledger.tcp_url else None
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(svc.db.dispose)
        if tcp is not None:
            stack.push_async_callback(tcp.db.dispose)
        loads = {**pipeline_loads(svc, ledger, plan, tcp), **await FLOORS[ledger.kind](ledger, plan, stack)}
        races = {name: loads.pop(name) for name in (PIPELINE_RACE, FLOOR_RACE)}
        analyzed = (lambda: analyze(ledger)) if ledger.kind == POSTGRES else None
        server_cpu = postgres_cpu_seconds if ledger.kind == POSTGRES else None
        throughput = await measure(plan.reps, loads, plan.seconds_per_rep, analyzed, server_cpu)
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
    url, first, reports, queries, seconds = sys.argv[1], *map(int, sys.argv[2:5]), float(sys.argv[5])
    print(json.dumps(asyncio.run(footprint_child(url, first, reports, queries, seconds))))
