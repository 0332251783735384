"""What every benchmark section shares: timing, statistics, the row of the results table, the repeated
measuring of workloads, the /proc readings of processes, and new databases to measure on.

Nothing here knows a section: a section's own office, ledger or bot process lives beside its measurements
(bench/storage_ledger.py, bench/telegram_office.py, bench/telegram_bot.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
SQLITE, POSTGRES = "SQLite", "PostgreSQL"
PG_ADMIN_DSN = os.environ.get("REPORTBOT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARMUP = 10  # operations (or racers) before a load is measured
MIN_COUNT = 20  # operations per repetition, however slow the load

Sample = tuple[float, list[float]]  # one repetition: operations per second, latencies in ms


# ---------------------------------------------------------------------------------------------
# Figures and the table


@dataclass(frozen=True)
class Stat:
    """The median of several repetitions with their min and max."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        return cls(statistics.median(values), min(values), max(values))

    def show(self, digits: int = 1) -> str:
        return f"{self.median:,.{digits}f} ({self.low:,.{digits}f}–{self.high:,.{digits}f})"


@dataclass(frozen=True)
class Row:
    """One line of the results table: a figure beside the floor/ceiling it is judged against."""

    section: str
    figure: str
    value: Stat | None
    unit: str
    reference: str = ""
    reference_value: Stat | None = None
    goal: str = ""
    note: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.reference_value is None or not self.reference_value.median:
            return None
        return self.value.median / self.reference_value.median


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0–100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def table(rows: Sequence[Row]) -> str:
    """The Markdown table that `python -m bench` prints and bench/RESULTS.md keeps."""
    lines = [
        "| section | figure | value (median, min–max) | unit | floor / ceiling (same run) | ratio | goal | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = r.value.show() if r.value else "—"
        ref = f"{r.reference}: {r.reference_value.show()}" if r.reference_value else r.reference
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        lines.append(f"| {r.section} | {r.figure} | {value} | {r.unit} | {ref} | {ratio} | {r.goal} | {r.note} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Timing calls


async def timed_calls(call: Callable[[int], Awaitable[object]], count: int) -> Sample:
    """Run call(0..count-1) one after another: (calls per second, per-call latencies in ms)."""
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        await call(i)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - start
    return count / elapsed, latencies


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


# ---------------------------------------------------------------------------------------------
# Workloads measured side by side


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


# ---------------------------------------------------------------------------------------------
# Processes


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU the process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    """The peak RSS (VmHWM) of the process ``pid``."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def own_peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM, since Linux carries the spawning parent's peak into ru_maxrss."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


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


async def stop(process: asyncio.subprocess.Process, grace: float = 15.0) -> int | None:
    """SIGINT, as Ctrl-C would; SIGKILL if it has not exited after grace seconds. The exit code, None if killed."""
    if process.returncode is not None:
        return process.returncode
    process.send_signal(signal.SIGINT)
    try:
        return await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None


# ---------------------------------------------------------------------------------------------
# Databases


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy postgresql+asyncpg URL as asyncpg itself takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def pg_admin(sql: str, dsn: str = PG_ADMIN_DSN) -> None:
    """``sql`` on a connection of its own (by default to the server's admin database)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database(kind: str, stored: int, tmp: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database; a PostgreSQL one (``reportbot_bench_<random>``) is dropped on
    leaving."""
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


def insert_sql(table: str, columns: tuple[str, ...], mark: Callable[[int], str]) -> str:
    marks = ", ".join(mark(n) for n in range(1, len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def qmark(_: int) -> str:
    return "?"


def dollar(n: int) -> str:
    return f"${n}"
