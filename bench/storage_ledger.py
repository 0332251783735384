"""What every measurement of the storage section stands on: the plan of a mode, the office and the ledger.

The office is tests/storage/race.py's project with its 200 canvassers, four more projects and one
assistant for /who. A ledger is a migrated database with that office registered (and, once
bench/storage_history.py has filled it, past reports): it hands out new customers and bare reports, and
names itself in the table. The web bench (bench/web_bench.py) and the reminder sweep (bench/sweep_bench.py)
measure on the same ledgers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url

from bench.common import SQLITE, asyncpg_dsn, pg_admin
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from tests.storage.race import REPORTED_AT, TEAM, canvasser, register

SECTION = "storage"

# The office: race.py's project and 200 canvassers, four more projects, one assistant for /who.
CANVASSERS = 200
PROJECTS = ("开盘楼盘", "森林半岛", "滨江花园", "云溪府", "锦绣城")
ASSISTANT = NewStaff("周助理", TEAM, "assistant", "4000", project=PROJECTS[0])
REGISTERED_AT = REPORTED_AT - timedelta(days=120)
# The per-canvasser limit (50) is lifted: 1,000,000 stored reports leave ~100 active per canvasser.
POLICY = replace(Policy(), max_active_reports_per_canvasser=10**9)
MESSAGE_IDS = itertools.count(1)  # Telegram's message ids in the delivery keys: every report is a new message

# The bare transaction: "look up (project, masked phone) among active reports, insert if free, commit".
BARE_COLUMNS = (
    "project_id", "phone", "receipt_no", "customer", "team", "canvasser_id", "filed_by_id",
    "appointment_at", "reported_at", "valid_until", "status", "source_channel", "source_chat",
)  # fmt: skip
BARE_TIMES = (REPORTED_AT + timedelta(hours=29), REPORTED_AT, REPORTED_AT + timedelta(days=8))

# PostgreSQL is measured over its Unix socket when the server has one here, as a bot on the database's
# machine connects (README "Performance"); the 8-connection loads are repeated over TCP loopback, under
# their names with this suffix (the table shows the transport beside the database instead).
OVER_TCP = " over TCP"

Values = tuple[object, ...]


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


def phone_text(n: int) -> str:
    """Distinct masked phone n (0 ≤ n < 7,000,000): prefixes 130–199 × 100,000 suffixes."""
    return f"{130 + n // 100_000}***{n % 100_000:05d}"


def sqlite_time(at: datetime) -> str:
    """An aware datetime as SQLAlchemy stores it on SQLite (naive UTC text with microseconds)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def as_is(at: datetime) -> datetime:
    """An aware datetime as asyncpg sends it to a timestamptz column."""
    return at


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


def where(ledger: Ledger, load: str = "") -> str:
    """The database the rows of ``load`` ran on, and how it was reached when both ways were measured."""
    over = "" if ledger.tcp_url is None else " (TCP loopback)" if load.endswith(OVER_TCP) else " (Unix socket)"
    return f"{ledger.kind}{over}, {ledger.stored:,} stored"


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
