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
import json
import os
import queue
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import aiosqlite
import asyncpg

from bench.common import (
    POSTGRES,
    ROOT,
    SQLITE,
    Load,
    Measured,
    Row,
    Sample,
    Stat,
    calls,
    capped_calls,
    dollar,
    grouped,
    insert_sql,
    measure,
    own_peak_rss_mib,
    percentile,
    postgres_cpu_seconds,
    qmark,
)
from bench.storage_history import generation_rows, open_ledger
from bench.storage_ledger import (
    ASSISTANT,
    BARE_COLUMNS,
    CANVASSERS,
    MESSAGE_IDS,
    OVER_TCP,
    PLANS,
    POLICY,
    PROJECTS,
    SECTION,
    Ledger,
    Plan,
    Values,
    analyze,
    phone_text,
    services,
    where,
)
from bench.sweep_bench import sweep_rows
from reportbot.bot import polling
from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Incoming, Send
from reportbot.handlers.report import planned_reminders
from reportbot.handlers.router import handle_message
from reportbot.storage.repositories import DeliveryRepository, NewReport, ReportRepository
from reportbot.storage.sql import PostgresSql
from reportbot.storage.tables import ACTIVE_SQL
from tests.storage.race import REPORTED_AT, TEAM, canvasser

REPORT_TEXT = "报备 客户：张先生 电话：{phone} 队名：" + TEAM + " 拓客：{name} 到访：明天下午3点"
RACERS = 200
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

# ---------------------------------------------------------------------------------------------
# Measuring


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


async def footprint_child(
    url: str, first: int, reports: int, queries: int, seconds: float
) -> dict[str, float]:
    """Services built, then reports and /who answered (each phase capped at ``seconds``): peak RSS."""
    svc = services(url)
    stack_mb = own_peak_rss_mib()
    try:
        done = len(await capped_calls(lambda i: send_report(svc, phone_text(first + i), i), reports, seconds))
        step = max(1, done // queries)
        who = await capped_calls(
            lambda q: ask_who(svc, phone_text(first + q * step % done)), queries, seconds
        )
    finally:
        await svc.db.dispose()
    return {"stack_mb": stack_mb, "peak_mb": own_peak_rss_mib(), "reports": done, "queries": len(who),
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
