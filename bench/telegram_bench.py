"""The bot on telegram-test-api: throughput against a PTB echo bot, latency under Telegram's limits, cold start.

Every bot runs in its own process (`python -m bench.telegram_bench serve SPEC`), so that the simulated
people (this process, talking to the emulator's client API) take no CPU from the bot under test.
Arrival times are the emulator's own timestamps of the bot's messages, so how often this process
polls for them changes nothing in the figures, only when a run is seen to be over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import ROOT, Row, Stat, peak_rss_mib, percentile, process_cpu_seconds, stop
from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from tests.e2e.emulator import Emulator, new_token

REPORTBOT = ROOT / ".venv" / "bin" / "reportbot"
REPORT = "报备 客户：张先生 电话：138***{n:05d} 队名：{team} 拓客：{name} 到访：明天下午3点"
POLL_INTERVAL = 0.05  # the bot's getUpdates interval (the emulator has no long polling)
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许"
GIVEN = "伟芳娜敏静丽强磊军洋"
TEAMS = ("飞虎队", "猛虎队", "雄鹰队", "猎豹队", "战狼队")
UNLIMITED = "AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)"
STACK_FLOOR = """
import resource, sys
import telegram.ext, sqlmodel, sqlalchemy.ext.asyncio, aiosqlite, jinja2, apscheduler
from telegram.ext import AIORateLimiter, ApplicationBuilder
ApplicationBuilder().token("1:x").rate_limiter(AIORateLimiter()).build()
print(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
"""


# ----------------------------------------------------------------------------- the office


@dataclass(frozen=True)
class Person:
    """A registered canvasser: Telegram id (= private chat), name, team and the project's group."""

    user_id: int
    name: str
    team: str
    group: int


@dataclass(frozen=True)
class Office:
    """Projects (one group chat each) and their canvassers, spread evenly."""

    people: tuple[Person, ...]

    @classmethod
    def of(cls, projects: int, canvassers: int) -> Office:
        people = (
            Person(
                7000 + n,
                SURNAMES[n % 20] + GIVEN[n // 20] + "生",
                TEAMS[n % projects],
                -1009000000000 - n % projects,
            )
            for n in range(canvassers)
        )
        return cls(tuple(people))

    @property
    def groups(self) -> list[int]:
        return sorted({p.group for p in self.people})

    def report(self, n: int) -> tuple[Person, str]:
        """Report n (a distinct phone) from canvasser n mod the number of canvassers."""
        person = self.people[n % len(self.people)]
        return person, REPORT.format(n=n, team=person.team, name=person.name)

    async def register(self, url: str) -> None:
        """Migrate the database at url and register the projects and canvassers."""
        await asyncio.to_thread(upgrade, url)
        db, now = Database(url), datetime.now().astimezone()
        try:
            for group in self.groups:
                await directory.add_project(db, f"楼盘{group}", str(group), None, now)
            staff = [
                NewStaff(p.name, p.team, "canvasser", str(p.user_id), project=f"楼盘{p.group}")
                for p in self.people
            ]
            await directory.import_staff(db, list(enumerate(staff, start=2)), now)
        finally:
            await db.dispose()


class Databases:
    """One registered office per run, copied from a template so that every run starts alike."""

    def __init__(self, office: Office, root: Path) -> None:
        self.office, self.root, self._template, self._runs = office, root, root / "template.db", 0

    async def fresh(self) -> str:
        """The URL of a new copy of the registered template database."""
        if not self._template.exists():
            await self.office.register(_url(self._template))
        self._runs += 1
        copy = self.root / f"run{self._runs}.db"
        shutil.copyfile(self._template, copy)
        return _url(copy)


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


# ----------------------------------------------------------------------------- the bot process


@dataclass(frozen=True)
class BotSpec:
    """What the bot process runs: our bot or a PTB echo bot (updates in sequence or, for the echo bot,
    concurrently: our bot handles them in order in its own polling loop and sends concurrently, per chat)."""

    kind: str  # "reportbot" | "echo"
    concurrent: bool = False
    production_limiter: bool = False  # True: exactly transport.build(settings); else UNLIMITED
    http: str = "httpx"  # the echo bot's Bot API client: PTB's own (httpx), or ours (bot/bot_api_http.py, aiohttp)
    token: str = ""
    base_url: str = ""
    db_url: str = ""


def _builder(spec: BotSpec) -> Any:
    """An ApplicationBuilder as transport.build makes it, with both rate limits off and the chosen concurrency."""
    from telegram.ext import AIORateLimiter, ApplicationBuilder

    builder = (
        ApplicationBuilder()
        .token(spec.token)
        .base_url(spec.base_url)
        .base_file_url(spec.base_url.removesuffix("/bot") + "/file/bot")
        .rate_limiter(AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3))
        .concurrent_updates(spec.concurrent)
    )
    if spec.http == "aiohttp":  # as TelegramTransport.build
        from reportbot.bot.telegram import with_bot_api_client

        builder = with_bot_api_client(builder)
    return builder


def _reportbot_application(spec: BotSpec) -> tuple[Any, Any, Any]:
    """Our bot on the spec's database as `reportbot run` builds it: (application, transport, settings).

    transport.build(settings), with both rate limits off (as for the echo bot) unless ``production_limiter``."""
    from reportbot.bot.settings import Settings
    from reportbot.bot.telegram import TelegramTransport
    from reportbot.handlers.context import Services
    from reportbot.handlers.render import Renderer
    from reportbot.rules.policy import Policy
    from reportbot.scheduler.clock import SystemClock

    policy = Policy()
    services = Services(db=Database(spec.db_url), render=Renderer(policy.timezone), policy=policy)
    transport = TelegramTransport(services, SystemClock(), Path(tempfile.mkdtemp()) / "outbox.journal")
    settings = Settings(
        telegram_bot_token=spec.token, telegram_base_url=spec.base_url, telegram_poll_interval=POLL_INTERVAL
    )
    if spec.production_limiter:
        return transport.build(settings), transport, settings
    from telegram.ext import AIORateLimiter

    unlimited = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
    return transport.build(settings, rate_limiter=unlimited), transport, settings


def _echo_application(spec: BotSpec) -> Any:
    """The framework ceiling: one reply per text message, nothing else."""
    from telegram import Update
    from telegram.ext import ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_text(update.effective_message.text)

    application = _builder(spec).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    return application


def serve(spec: BotSpec) -> None:
    """Run the bot, saying READY once it serves; stop on SIGINT. Our bot runs as `reportbot run` runs it
    (TelegramTransport.serve: its own polling loop, bot/polling.py); the echo bot runs PTB's run_polling."""
    threading.Thread(target=_stop_when_orphaned, daemon=True).start()
    if spec.kind == "echo":
        from telegram.ext import Application

        application: Application = _echo_application(spec)  # type: ignore[type-arg]

        async def ready(app: Application) -> None:  # type: ignore[type-arg]
            print("READY", flush=True)

        application.post_init = ready
        application.run_polling(poll_interval=POLL_INTERVAL, allowed_updates=["message", "callback_query"])
        return
    asyncio.run(_serve_reportbot(spec))


async def _serve_reportbot(spec: BotSpec) -> None:
    application, transport, settings = _reportbot_application(spec)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.create_task(transport.serve(application, settings, stop=stop))
    started = asyncio.create_task(transport.started.wait())
    await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
    if started.done():
        print("READY", flush=True)
    await serving


def _stop_when_orphaned() -> None:
    """Ctrl-C ourselves when the benchmark process goes away (our stdin is its pipe)."""
    sys.stdin.buffer.read()
    os.kill(os.getpid(), signal.SIGINT)


# ----------------------------------------------------------------------------- the people


@dataclass
class Arrivals:
    """Bot messages seen at the emulator: chat id → [(emulator arrival time in s, text)]."""

    by_chat: dict[int, list[tuple[float, str]]] = field(default_factory=dict)

    def add(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            message = item["message"]
            self.by_chat.setdefault(int(message["chat_id"]), []).append(
                (item["time"] / 1000, message["text"])
            )

    def count(self, chats: Sequence[int]) -> int:
        return sum(len(self.by_chat.get(c, ())) for c in chats)

    def all(self, chats: Sequence[int]) -> list[tuple[float, str]]:
        return [m for c in chats for m in self.by_chat.get(c, ())]


class People:
    """The simulated people: they write through the emulator's client API and collect the bot's answers."""

    def __init__(self, emulator: Emulator, token: str) -> None:
        self.token = token
        self.url = emulator.url
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(60)
        )
        self.arrivals = Arrivals()

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST JSON to the emulator's client API; its answer's result."""
        async with self.http.post(self.url + path, json=payload) as answer:
            answer.raise_for_status()
            return (await answer.json())["result"]

    async def say(self, user_id: int, chat_id: int, text: str) -> float:
        """Send text from user_id into chat_id; returns the wall time just before sending."""
        sender = {"id": user_id, "is_bot": False, "first_name": str(user_id)}
        chat = (
            {"id": chat_id, "type": "private", "first_name": str(user_id)}
            if chat_id > 0
            else {"id": chat_id, "type": "supergroup", "title": str(chat_id)}
        )
        message: dict[str, Any] = {
            "botToken": self.token,
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }
        endpoint = "/sendMessage"
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            endpoint = "/sendCommand"
        sent = time.time()
        await self.post(endpoint, message)
        return sent

    async def collect(self, chats: Sequence[int]) -> None:
        """Fetch the bot messages not seen yet in these chats."""

        batches = [self.post("/getUpdates", {"token": self.token, "chatId": chat}) for chat in chats]
        for items in await asyncio.gather(*batches):
            self.arrivals.add(items)

    async def wait(self, chats: Sequence[int], count: int, timeout: float, every: float = 1.0) -> Arrivals:
        """Poll until count bot messages have arrived in these chats (or timeout: fewer)."""
        deadline = time.monotonic() + timeout
        while True:
            await self.collect(chats)
            if self.arrivals.count(chats) >= count or time.monotonic() > deadline:
                return self.arrivals
            await asyncio.sleep(every)


async def burst(
    people: People, messages: Sequence[tuple[Person, str]], spacing: float = 0.0, concurrency: int = 50
) -> list[float]:
    """Each person sends their message in their private chat, spacing seconds apart (0: all at once,
    concurrency at a time); returns the wall time each was sent."""
    gate, start = asyncio.Semaphore(concurrency), time.monotonic()

    async def one(i: int, person: Person, text: str) -> float:
        await asyncio.sleep(max(0.0, start + i * spacing - time.monotonic()))
        async with gate:
            return await people.say(person.user_id, person.user_id, text)

    return list(await asyncio.gather(*(one(i, p, t) for i, (p, t) in enumerate(messages))))


@dataclass
class Session:
    """A bot process serving an emulator, and the people talking to it."""

    people: People
    process: asyncio.subprocess.Process
    spawned: float  # wall time just before the spawn
    log: Path
    emulator: Emulator | None = None

    def cpu_seconds(self) -> float:
        """User + system CPU the bot process has used so far."""
        return process_cpu_seconds(self.process.pid)

    def peak_rss_mib(self) -> float:
        return peak_rss_mib(self.process.pid)


@contextlib.asynccontextmanager
async def bot_on_emulator(
    command: Callable[[Emulator, str], tuple[list[str], dict[str, str]]],
    log: Path,
    before_spawn: Callable[[People], Any] | None = None,
    ready: bool = True,
) -> AsyncIterator[Session]:
    """A fresh emulator and a bot process on it (command(emulator, token) → argv, extra env).

    before_spawn(people) is awaited first; with ready, waits for the process's READY line.
    On exit the bot gets SIGINT (then SIGKILL after 15 s) and the emulator is stopped.
    """
    async with Emulator() as emulator:
        people = People(emulator, new_token())
        argv, env = command(emulator, people.token)
        if before_spawn is not None:
            await before_spawn(people)
        with log.open("ab") as err:
            spawned = time.time()
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=log.parent,
                env={**os.environ, **env},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
            )
        session = Session(people, process, spawned, log, emulator)
        try:
            if ready:
                await _until_ready(session)
            yield session
        finally:
            await stop(process)
            await people.http.close()


async def _until_ready(session: Session, timeout: float = 60.0) -> None:
    assert session.process.stdout is not None
    line = await asyncio.wait_for(session.process.stdout.readline(), timeout)
    if line.strip() != b"READY":
        raise RuntimeError(f"bot process did not start:\n{session.log.read_text()[-3000:]}")


def _serving(spec: BotSpec) -> Callable[[Emulator, str], tuple[list[str], dict[str, str]]]:
    """The command that runs spec in a bot process on the given emulator with the given token."""

    def command(emulator: Emulator, token: str) -> tuple[list[str], dict[str, str]]:
        full = BotSpec(**{**asdict(spec), "token": token, "base_url": emulator.base_url})
        argv = [sys.executable, "-m", "bench.telegram_bench", "serve", json.dumps(asdict(full))]
        return argv, {"PYTHONPATH": str(ROOT)}

    return command


# ----------------------------------------------------------------------------- 1. throughput


@dataclass(frozen=True)
class Throughput:
    messages_per_second: float
    seconds: float
    cpu_ms_per_report: float


async def throughput_run(
    spec: BotSpec, office: Office, reports: int, databases: Databases, log: Path
) -> Throughput:
    """All reports at once (50 in flight); until every answer (receipt + card, or the echo) has arrived.

    Under the production limiter only the receipts are waited for: the cards queue behind each group's
    20 a minute (2,000 cards in 5 groups: 20 minutes), which the limits rows measure on their own."""
    spec = BotSpec(**{**asdict(spec), "db_url": await databases.fresh()})
    messages = [office.report(n) for n in range(reports)]
    with_cards = spec.kind == "reportbot" and not spec.production_limiter
    chats = [p.user_id for p in office.people] + (office.groups if with_cards else [])
    expected = reports * (2 if with_cards else 1)
    async with bot_on_emulator(_serving(spec), log) as session:
        cpu_before = session.cpu_seconds()
        sent = await burst(session.people, messages)
        arrived = (await session.people.wait(chats, expected, timeout=600)).all(chats)
        cpu = session.cpu_seconds() - cpu_before
    _check_answers(spec, arrived, expected, receipts=reports if spec.kind == "reportbot" else 0)
    seconds = max(t for t, _ in arrived) - min(sent)
    return Throughput(expected / seconds, seconds, cpu / reports * 1000)


def _check_answers(spec: BotSpec, arrived: list[tuple[float, str]], expected: int, receipts: int) -> None:
    if len(arrived) != expected:
        raise RuntimeError(f"{spec.kind}: {len(arrived)} of {expected} answers arrived")
    if spec.kind == "reportbot":
        got = sum("✅ 报备已登记" in text for _, text in arrived)
        if got != receipts:
            sample = next(
                (text for _, text in arrived if "报备已登记" not in text and "确认" not in text), "?"
            )
            raise RuntimeError(f"{got} of {receipts} receipts among the answers, e.g. {sample!r}")


async def throughput_rows(long: bool, root: Path) -> list[Row]:
    """Our bot as `reportbot run` serves it against the echo bot, repetitions interleaved."""
    office, reports = Office.of(projects=5, canvassers=50), 2000
    databases, log = Databases(office, root), root / "bots.log"
    # On a noisy machine the echo bot alone varied 267-392 messages/s between runs: five interleaved
    # repetitions of each, so that the ratio's medians are not a coin toss.
    plan = {  # name: (spec, repetitions in default mode); long mode repeats each 5 times
        "echo": (BotSpec("echo"), 5),
        "reportbot": (BotSpec("reportbot"), 5),
        "echo-concurrent": (BotSpec("echo", concurrent=True), 1),
        "echo-aiohttp": (BotSpec("echo", http="aiohttp"), 3),
    }
    results: dict[str, list[Throughput]] = {name: [] for name in plan}
    for repetition in range(max(repetitions for _, repetitions in plan.values())):
        for name, (spec, repetitions) in plan.items():
            if long or repetition < repetitions:
                results[name].append(await throughput_run(spec, office, reports, databases, log))
    ceiling = Stat.of([r.messages_per_second for r in results["echo"]])
    rows = [
        _throughput_row(name, results[name], ceiling)
        for name in ("reportbot", "echo-concurrent", "echo-aiohttp")
    ]
    ours = Stat.of([r.messages_per_second for r in results["echo-aiohttp"]])
    rows.append(replace(_throughput_row("reportbot", results["reportbot"], ours, ECHO_AIOHTTP), goal=""))
    if long:
        production = BotSpec("reportbot", production_limiter=True)
        slow = [await throughput_run(production, office, reports, databases, log)]
        rows.append(_throughput_row("production-limiter", slow, ceiling))
    return rows


ECHO_HTTPX = "PTB echo bot, sequential updates, 2,000 messages"
ECHO_AIOHTTP = "PTB echo bot on the bot's own Bot API client (aiohttp), 2,000 messages"


def _throughput_row(name: str, runs: list[Throughput], ceiling: Stat, ceiling_name: str = ECHO_HTTPX) -> Row:
    figures = {
        "reportbot": (
            (
                "2,000 reports from 50 canvassers in 5 projects, as `reportbot run` serves them (own polling "
                "loop: updates handled in order, answers sent concurrently, one queue per chat)"
            ),
            "≥ 80% of echo",
        ),
        "echo-concurrent": ("PTB echo bot with concurrent_updates(True)", ""),
        "echo-aiohttp": (("PTB echo bot, sequential updates, on the bot's own Bot API client (bot/bot_api_http.py: "
                          "aiohttp instead of PTB's httpx)"), ""),
        "production-limiter": ("the same, production AIORateLimiter (30/s overall): until every receipt",
                               "≈ 30/s"),
    }
    figure, goal = figures[name]
    seconds = Stat.of([r.seconds for r in runs])
    note = f"{len(runs)} run(s); all answers in {seconds.show()} s"
    if name in ("reportbot", "production-limiter"):
        cpu = Stat.of([r.cpu_ms_per_report for r in runs])
        made = "receipt + card per report" if name == "reportbot" else "receipts only (the cards wait for 20/min/group)"
        note += f"; {made}; bot CPU {cpu.show(2)} ms/report"
    if name != "production-limiter":
        note += f"; limiter {UNLIMITED} in bot and echo"
    unit = "bot messages/s"
    return Row(
        "telegram throughput",
        figure,
        Stat.of([r.messages_per_second for r in runs]),
        unit,
        ceiling_name,
        ceiling,
        goal,
        note,
    )


# ----------------------------------------------------------------------------- 2. limits


@dataclass(frozen=True)
class UnderLimits:
    p50: float
    p99: float
    max: float
    last_card: float
    cards: int


def group_rate_model(sent: Sequence[float], rate: float = 20, period: float = 60) -> float:
    """When the last card may leave under aiolimiter's leaky bucket of rate per period, cards made at sent."""
    level, clock = 0.0, sent[0]
    for t in sorted(sent):
        level = max(0.0, level - (t - clock) * rate / period)
        clock = t
        if level + 1 > rate:
            wait = (level + 1 - rate) * period / rate
            clock, level = clock + wait, rate - 1.0
        level += 1
    return clock - sent[0]


async def limits_run(
    office: Office, reports: int, seconds: float, databases: Databases, log: Path
) -> tuple[UnderLimits, float]:
    """Reports spread evenly over seconds through the production bot; receipt latencies and the cards' pace."""
    spec = BotSpec("reportbot", production_limiter=True, db_url=await databases.fresh())
    messages = [office.report(n) for n in range(reports)]
    private, group = [p.user_id for p in office.people], office.groups
    async with bot_on_emulator(_serving(spec), log) as session:
        sent = await burst(session.people, messages, spacing=seconds / reports)
        await session.people.wait(private, reports, timeout=60)
        cards = await session.people.wait(group, reports, timeout=seconds + reports * 3 + 120, every=1.0)
    latencies = [_receipt_time(cards.all(private), n) - sent[n] for n in range(reports)]
    card_times = [t for t, _ in cards.all(group)]
    last = max(card_times) - min(sent) if card_times else float("nan")
    phones = {
        f"138***{n:05d}" for n in range(reports) if any(f"138***{n:05d}" in x for _, x in cards.all(group))
    }
    result = UnderLimits(
        percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000,
        max(latencies) * 1000,
        last,
        len(phones),
    )
    return result, group_rate_model(sent)


def _receipt_time(received: list[tuple[float, str]], n: int) -> float:
    phone = f"138***{n:05d}"
    return next((t for t, text in received if phone in text and "回执号" in text), float("inf"))


async def limits_rows(long: bool, root: Path) -> list[Row]:
    """100 reports in a minute (long mode) or 30 in 20 s (default) into one project, production limiter."""
    reports, seconds, repetitions = (100, 60.0, 3) if long else (30, 20.0, 2)
    office = Office.of(projects=1, canvassers=20)
    databases, log = Databases(office, root / "limits"), root / "limits" / "bots.log"
    log.parent.mkdir()
    runs = [await limits_run(office, reports, seconds, databases, log) for _ in range(repetitions)]
    results, model = [r for r, _ in runs], Stat.of([m for _, m in runs])
    what = f"{reports} reports from 20 canvassers into one project, evenly over {seconds:.0f} s"
    note = f"{what}, {repetitions} runs{'' if long else ' (--long: 100 in 60 s)'}; production limiter (transport.build: 30/s overall, 20/min per group)"
    cards = Stat.of([r.cards for r in results])
    section = "telegram limits"
    latencies = [
        ("receipt latency p50 (send → receipt at emulator)", "p50", ""),
        ("receipt latency p99", "p99", "< 2,000 ms"),
        ("receipt latency max", "max", ""),
    ]
    return [
        *(
            Row(section, figure, Stat.of([getattr(r, attr) for r in results]), "ms", goal=goal, note=note,
                higher_is_better=False)
            for figure, attr, goal in latencies
        ),
        Row(
            section,
            "last group card, after the first report",
            Stat.of([r.last_card for r in results]),
            "s",
            "20/min leaky bucket (aiolimiter model)",
            model,
            "≈ model",
            f"{cards.median:.0f} of {reports} cards arrived (min {cards.low:.0f}); {note}",
            higher_is_better=False,
        ),
    ]


# ----------------------------------------------------------------------------- 3. footprint


async def stack_floor() -> tuple[float, float]:
    """Seconds from spawn to exit of a process that imports the stack and builds an Application; its peak RSS (MiB)."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STACK_FLOOR, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return time.perf_counter() - start, int(out) / 1024


@dataclass(frozen=True)
class ColdStart:
    seconds: float
    rss_mib: float
    exit_code: int | None


async def cold_start_run(databases: Databases, log: Path) -> ColdStart:
    """`reportbot run` on a copy of a migrated, registered database; /start is waiting before the spawn."""
    db_url, person = await databases.fresh(), databases.office.people[0]

    def command(emulator: Emulator, token: str) -> tuple[list[str], dict[str, str]]:
        env = {
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_BASE_URL": emulator.base_url,
            "TELEGRAM_POLL_INTERVAL": str(POLL_INTERVAL),
            "DATABASE_URL": db_url,
        }
        return [str(REPORTBOT), "run"], env

    async def say_start(people: People) -> None:
        await people.say(person.user_id, person.user_id, "/start")

    async with bot_on_emulator(command, log, before_spawn=say_start, ready=False) as session:
        answer = await session.people.wait([person.user_id], 1, timeout=60, every=0.01)
        rss, spawned = session.peak_rss_mib(), session.spawned
        code = await stop(session.process)
    arrived = answer.all([person.user_id])
    if not arrived:
        raise RuntimeError(f"reportbot run never answered /start:\n{log.read_text()[-3000:]}")
    return ColdStart(arrived[0][0] - spawned, rss, code)


async def footprint_rows(root: Path) -> list[Row]:
    """Cold start to the first answer and peak RSS, beside the bare stack in a fresh process."""
    repetitions = 5
    databases, log = Databases(Office.of(projects=1, canvassers=1), root / "cold"), root / "cold" / "bots.log"
    log.parent.mkdir()
    floors, runs = [], []
    for _ in range(repetitions):  # interleaved, so that both see the same machine
        floors.append(await stack_floor())
        runs.append(await cold_start_run(databases, log))
    exits = sorted({str(r.exit_code) for r in runs})
    note = (
        f"fresh copy of a migrated DB with 1 project + 1 canvasser registered by reportbot.handlers.directory "
        f"(start-up upgrade finds it at head); /start queued before the spawn; SIGINT exit codes: {', '.join(exits)}"
    )
    section = "telegram cold start"
    return [
        Row(
            section,
            "`reportbot run`: spawn → answer to /start at the emulator",
            Stat.of([r.seconds * 1000 for r in runs]),
            "ms",
            "import stack + build Application, fresh process",
            Stat.of([s * 1000 for s, _ in floors]),
            "< 1,500 ms",
            note,
            higher_is_better=False,
        ),
        Row(
            section,
            "peak RSS (VmHWM) of the bot after its first answer",
            Stat.of([r.rss_mib for r in runs]),
            "MiB",
            "same floor process",
            Stat.of([m for _, m in floors]),
            "",
            "",
            higher_is_better=False,
        ),
    ]


# ----------------------------------------------------------------------------- entry points


async def run(long: bool) -> list[Row]:
    """All three measurements; default mode ≈ 5 minutes, long mode adds the full minute under the limits."""
    with tempfile.TemporaryDirectory(prefix="telegram-bench-") as tmp:
        root = Path(tmp)
        rows = await footprint_rows(root)
        rows += await throughput_rows(long, root)
        rows += await limits_rows(long, root)
        return rows


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(BotSpec(**json.loads(sys.argv[2])))
