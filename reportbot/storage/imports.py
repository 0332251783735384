"""An imported spreadsheet's reports (issue 27): what the ledger holds of the file's customers, and the
rows written in bulk, inside the import's one transaction.

The bot files a report in one round trip (storage/report_filing.py); an office's ledger is 10,000 of them
at once, so here every kind of row goes in a few statements: the reports as multi-row INSERTs (their ids
back, in VALUES order), the events chained in Python from the project's audit head, locked first as every
writer of the project's events locks it (storage/events.py), and inserted in one batch, the head moved
once. The chain is the same as the bot's: rules.audit.chain_link over rules.audit.event_content.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TypeVar

from reportbot.rules.audit import GENESIS, chain_link
from reportbot.rules.import_plan import LedgerCustomer
from reportbot.rules.model import EventKind
from reportbot.storage.base import Repository
from reportbot.storage.events import LOCK_HEAD, Seal
from reportbot.storage.sql import Sql, values_list
from reportbot.storage.tables import ACTIVE_SQL

CHUNK = 500  # rows per statement: 500 × 19 parameters, well inside SQLite's and asyncpg's limits

_REPORT_COLUMNS = (
    "project_id", "receipt_no", "customer", "phone", "team", "canvasser_id", "filed_by_id", "appointment_at",
    "reported_at", "valid_until", "status", "note", "reason", "source_channel", "source_chat", "phone_hash",
    "decided_by_id", "decided_at", "reject_reason",
)  # fmt: skip
_VISIT_COLUMNS = (
    "project_id", "phone", "at", "registered_by_id", "brought_by_id", "companions", "rule", "owner_id", "report_id",
    "last_activity_at", "phone_hash",
)  # fmt: skip
_EVENT_COLUMNS = (
    "project_id", "phone", "report_id", "kind", "actor_id", "at", "detail", "prev_hash", "hash", "salt", "personal_digest",
)  # fmt: skip
_INSERT_EVENT = f"INSERT INTO event ({', '.join(_EVENT_COLUMNS)}) VALUES {values_list(1, len(_EVENT_COLUMNS))}"
_MOVE_HEAD = "UPDATE audit_head SET last_hash = $2 WHERE project_id = $1"
# The receipt counter moves up to the numbers the import used, never down (the bot numbers after them).
_RAISE_COUNTER = (
    "INSERT INTO receipt_counter (project_id, day, last) VALUES ($1, $2, $3) ON CONFLICT (project_id, day)"
    " DO UPDATE SET last = CASE WHEN receipt_counter.last < excluded.last THEN excluded.last"
    " ELSE receipt_counter.last END"
)


@lru_cache(maxsize=32)
def _insert(table: str, columns: tuple[str, ...], rows: int, returning: bool) -> str:
    stmt = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values_list(rows, len(columns))}"
    return stmt + (" RETURNING id" if returning else "")


def _placeholders(first: int, count: int) -> str:
    return ", ".join(f"${n}" for n in range(first, first + count))


T = TypeVar("T")


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    return (items[at:at + CHUNK] for at in range(0, len(items), CHUNK))


@dataclass(frozen=True)
class ImportedReport:
    """A report as the import records it: its original time, its status and receipt already decided."""

    receipt_no: str
    customer: str
    phone: str
    team: str
    canvasser_id: int
    filed_by_id: int
    appointment_at: datetime
    reported_at: datetime
    valid_until: datetime
    status: str
    note: str | None
    reason: str | None
    source_chat: str  # the file's SHA-256: which import brought the report in
    phone_hash: str | None = None
    decided_by_id: int | None = None
    decided_at: datetime | None = None
    reject_reason: str | None = None


@dataclass(frozen=True)
class ImportedVisit:
    phone: str
    at: datetime
    registered_by_id: int
    owner_id: int
    report_id: int
    last_activity_at: datetime
    rule: str
    phone_hash: str | None = None


@dataclass(frozen=True)
class ImportedEvent:
    phone: str
    kind: EventKind
    actor_id: int
    at: datetime
    report_id: int | None = None
    detail: str | None = None


class ImportRepository(Repository):
    async def customers(self, project_id: int, phones: Sequence[str]) -> dict[str, LedgerCustomer]:
        """What the ledger holds of these customers (masked phones): those it knows nothing of are left out."""
        sql = await self.sql()
        active: dict[str, tuple[str | None, str | None, datetime | None]] = {}
        latest: dict[str, datetime | None] = {}
        visited: set[str] = set()
        public: set[str] = set()
        for chunk in _chunks(sorted(set(phones))):
            among = f"project_id = $1 AND phone IN ({_placeholders(2, len(chunk))})"
            for phone, receipt, team, at in await sql.rows(
                    f"SELECT phone, receipt_no, team, reported_at FROM report WHERE {among} AND {ACTIVE_SQL}",
                    project_id, *chunk):
                active[phone] = (receipt, team, sql.time(at))
            for phone, at in await sql.rows(
                    f"SELECT phone, max(reported_at) FROM report WHERE {among} GROUP BY phone", project_id, *chunk):
                latest[phone] = sql.time(at)
            visited.update(p for (p,) in await sql.rows(f"SELECT DISTINCT phone FROM visit WHERE {among}",
                                                         project_id, *chunk))
            public.update(p for (p,) in await sql.rows(
                f"SELECT phone FROM public_customer WHERE {among} AND released_at IS NULL", project_id, *chunk))
        known = set(active) | set(latest) | visited | public
        return {
            phone: LedgerCustomer(
                *active.get(phone, (None, None, None)), latest.get(phone),
                phone in visited, phone in public,
            )
            for phone in known
        }

    async def receipts_taken(self, project_id: int, receipts: Sequence[str]) -> set[str]:
        sql = await self.sql()
        taken: set[str] = set()
        for chunk in _chunks(sorted(set(receipts))):
            taken.update(r for (r,) in await sql.rows(
                f"SELECT receipt_no FROM report WHERE project_id = $1 AND receipt_no IN ({_placeholders(2, len(chunk))})",
                project_id, *chunk))
        return taken

    async def last_numbers(self, project_id: int) -> dict[str, int]:
        """The last receipt number the project handed out, per local day (YYYYMMDD)."""
        rows = await (await self.sql()).rows("SELECT day, last FROM receipt_counter WHERE project_id = $1", project_id)
        return {str(day): int(last) for day, last in rows}

    async def raise_counters(self, project_id: int, last: dict[str, int]) -> None:
        await (await self.sql()).execute_many(_RAISE_COUNTER, [(project_id, d, n) for d, n in sorted(last.items())])

    async def add_reports(self, project_id: int, reports: Sequence[ImportedReport]) -> list[int]:
        """Insert the reports in order; their ids, in the same order."""
        sql = await self.sql()
        ids: list[int] = []
        for chunk in _chunks(reports):
            values = [v for r in chunk for v in (
                project_id, r.receipt_no, r.customer, r.phone, r.team, r.canvasser_id, r.filed_by_id, r.appointment_at,
                r.reported_at, r.valid_until, r.status, r.note, r.reason, "import", r.source_chat, r.phone_hash,
                r.decided_by_id, r.decided_at, r.reject_reason)]
            # The ids of a multi-row INSERT ascend in VALUES order on SQLite and PostgreSQL alike.
            found = await sql.rows(_insert("report", _REPORT_COLUMNS, len(chunk), True), *values)
            ids += sorted(int(row[0]) for row in found)
        return ids

    async def add_visits(self, project_id: int, visits: Sequence[ImportedVisit]) -> list[int]:
        sql = await self.sql()
        ids: list[int] = []
        for chunk in _chunks(visits):
            values = [v for x in chunk for v in (
                project_id, x.phone, x.at, x.registered_by_id, None, 0, x.rule, x.owner_id, x.report_id,
                x.last_activity_at, x.phone_hash)]
            found = await sql.rows(_insert("visit", _VISIT_COLUMNS, len(chunk), True), *values)
            ids += sorted(int(row[0]) for row in found)
        return ids

    async def append_events(self, project_id: int, events: Sequence[ImportedEvent]) -> None:
        """Chain the events, in order, after the project's newest one: the head locked first, moved once."""
        if not events:
            return
        sql = await self.sql()
        prev = str(await sql.value(LOCK_HEAD, project_id, GENESIS))
        rows = []
        for e in events:
            seal = Seal.of(project_id, e.phone, e.kind, e.actor_id, e.at, e.detail)
            link = chain_link(prev, seal.content(e.report_id))
            rows.append((project_id, e.phone, e.report_id, e.kind.value, e.actor_id, e.at, e.detail, prev, link,
                         seal.salt, seal.personal_digest))
            prev = link
        await _insert_events(sql, rows)
        await sql.execute(_MOVE_HEAD, project_id, prev)


async def _insert_events(sql: Sql, rows: Sequence[tuple[object, ...]]) -> None:
    """In multi-row INSERTs on PostgreSQL (one round trip per 500); SQLite's executemany is as fast, in-process."""
    if sql.dialect != "postgresql":
        await sql.execute_many(_INSERT_EVENT, rows)
        return
    for chunk in _chunks(rows):
        await sql.execute(_insert("event", _EVENT_COLUMNS, len(chunk), False), *[v for row in chunk for v in row])
