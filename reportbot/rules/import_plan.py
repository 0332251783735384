"""What an import does with the rows it read (issue 27): who wins a customer, each report's status and
validity, its receipt number. Pure: the ledger's side comes in as plain values.

First come, by the original report time. The rows of one customer (project, masked phone) are taken in
the order of their 报备时间 (the same minute: the earlier line). A row is a *conflict*, listed and not
imported, when at its time the customer was held:

- in the file: an earlier row still valid then (its validity runs from its own report time, SPEC §4), or
  one that says the customer visited (the visit decided ownership), or the customer had become public
  (公号: the first report and ``max_rereports`` re-reports expired, SPEC §6) — as the bot would have
  refused it then (撞单), or found the same canvasser's report again;
- in the ledger, whose rules stand: a live report (pending or confirmed), a visit, a public customer;
  and a customer whose newest report in the ledger is later than the row (the ledger's history of a
  customer is in time order, and the bot reads its newest report as its state); one reported at the same
  minute is the same report, imported before (the file run twice).

A row that is not a conflict is imported with its original time. Its validity ends as the policy says
from that time (``validity_end``); one whose validity has ended is recorded as expired (已失效), for the
history; 已失效, 已驳回 and 已到访 in the sheet are kept; a live row is confirmed (有效: the office kept
it in its ledger) unless the sheet says 待确认.

Receipt numbers: the one ``/export`` wrote (BB-YYYYMMDD-NNNN) is kept when no report of the project has it
yet, so that an exported ledger comes back the same; every other row is numbered after the last number of
its report day, as the bot numbers (per project and local day).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from reportbot.rules.import_rows import Row
from reportbot.rules.model import Status
from reportbot.rules.ownership import becomes_public
from reportbot.rules.policy import Policy
from reportbot.rules.timeparse import validity_end

RECEIPT_PREFIX = "BB-"


@dataclass(frozen=True)
class LedgerCustomer:
    """What the ledger holds of a customer already."""

    active_receipt: str | None = None  # its live report, if any
    active_team: str | None = None
    active_at: datetime | None = None
    latest_at: datetime | None = None  # the time of its newest report, whatever its status
    visited: bool = False
    public: bool = False


class ConflictKind(StrEnum):
    FILE_EARLIER = "file_earlier"  # another canvasser's earlier row of the file held the customer
    FILE_REPEAT = "file_repeat"  # the same canvasser's earlier row still held it
    FILE_VISITED = "file_visited"  # an earlier row of the file says the customer visited
    FILE_PUBLIC = "file_public"  # the file's earlier rows made the customer public
    LEDGER_ACTIVE = "ledger_active"
    LEDGER_VISITED = "ledger_visited"
    LEDGER_PUBLIC = "ledger_public"
    LEDGER_NEWER = "ledger_newer"
    LEDGER_SAME = "ledger_same"  # the ledger has a report of the customer at that very minute: imported before


@dataclass(frozen=True)
class Conflict:
    row: Row
    kind: ConflictKind
    holder_line: int | None = None  # the row of the file that stands
    holder_team: str | None = None
    holder_at: datetime | None = None
    holder_receipt: str | None = None


@dataclass(frozen=True)
class Planned:
    """A row as it will be recorded."""

    row: Row
    status: Status
    valid_until: datetime
    receipt_no: str
    renumbered: bool  # the sheet gave a receipt number another report has: this one is new
    visit_at: datetime | None  # 已到访: when (the appointment when it lies between report and now, else the report)
    public_at: datetime | None  # its expiry made the customer public (公号)


@dataclass(frozen=True)
class ImportPlan:
    planned: tuple[Planned, ...]  # in the order to record: by report time, then line
    conflicts: tuple[Conflict, ...]  # by line

    def count(self, status: Status) -> int:
        return sum(1 for p in self.planned if p.status is status)

    @property
    def unregistered(self) -> tuple[Planned, ...]:
        return tuple(p for p in self.planned if not p.row.registered)

    @property
    def masked(self) -> tuple[Planned, ...]:
        """Rows whose phone (or note) was a whole number, masked on the way in."""
        return tuple(p for p in self.planned if p.row.phone.was_full)


def _status(row: Row, valid_until: datetime, now: datetime) -> Status:
    if row.status in (Status.REJECTED, Status.VISITED, Status.EXPIRED):
        return row.status
    if valid_until <= now:
        return Status.EXPIRED
    return row.status or Status.CONFIRMED


def _visit_at(row: Row, now: datetime) -> datetime:
    appointment = row.appointment_at
    return appointment if appointment is not None and row.reported_at <= appointment <= now else row.reported_at


def _same_canvasser(a: Row, b: Row) -> bool:
    if a.canvasser_id is not None or b.canvasser_id is not None:
        return a.canvasser_id == b.canvasser_id
    return (a.team, a.canvasser) == (b.team, b.canvasser)


def _ledger_conflict(row: Row, held: LedgerCustomer | None) -> Conflict | None:
    if held is None:
        return None
    if row.reported_at in (held.active_at, held.latest_at):
        return Conflict(row, ConflictKind.LEDGER_SAME, None, held.active_team, row.reported_at, held.active_receipt)
    if held.active_receipt is not None:
        return Conflict(row, ConflictKind.LEDGER_ACTIVE, None, held.active_team, held.active_at, held.active_receipt)
    if held.visited:
        return Conflict(row, ConflictKind.LEDGER_VISITED)
    if held.public:
        return Conflict(row, ConflictKind.LEDGER_PUBLIC)
    if held.latest_at is not None and row.reported_at <= held.latest_at:
        return Conflict(row, ConflictKind.LEDGER_NEWER, holder_at=held.latest_at)
    return None


@dataclass
class _Customer:
    """One customer's rows walked in time order: the row that holds it, and its run of expiries."""

    holder: Planned | None = None
    expiries: int = 0
    public_since: datetime | None = None


def _walk(
    rows: list[Row], ledger: Mapping[str, LedgerCustomer], policy: Policy, now: datetime
) -> tuple[list[tuple[Row, Status, datetime, datetime | None, datetime | None]], list[Conflict]]:
    kept: list[tuple[Row, Status, datetime, datetime | None, datetime | None]] = []
    conflicts: list[Conflict] = []
    customers: dict[str, _Customer] = {}
    for row in sorted(rows, key=lambda r: (r.reported_at, r.line)):
        phone = row.phone.masked
        known = ledger.get(phone)
        clash = _ledger_conflict(row, known)
        state = customers.setdefault(phone, _Customer())
        held = state.holder
        if clash is None and state.public_since is not None and row.reported_at >= state.public_since:
            clash = Conflict(row, ConflictKind.FILE_PUBLIC, holder_at=state.public_since)
        if clash is None and held is not None and (
            held.status is Status.VISITED
            or (held.status is not Status.REJECTED and row.reported_at < held.valid_until)
        ):
            kind = (ConflictKind.FILE_VISITED if held.status is Status.VISITED
                    else ConflictKind.FILE_REPEAT if _same_canvasser(held.row, row) else ConflictKind.FILE_EARLIER)
            clash = Conflict(row, kind, held.row.line, held.row.team, held.row.reported_at)
        if clash is not None:
            conflicts.append(clash)
            continue
        valid_until = validity_end(row.reported_at, policy)
        status = _status(row, valid_until, now)
        public_at = None
        if status is Status.EXPIRED:
            state.expiries += 1
            # The bot's sweep counts a customer's expiries since its last visit; the ledger's history of a
            # customer it already knows is not read here: only a customer new to the ledger becomes public.
            if known is None and becomes_public(state.expiries, policy.max_rereports):
                public_at = state.public_since = valid_until
        elif status is not Status.REJECTED:
            state.expiries = 0
        visit_at = _visit_at(row, now) if status is Status.VISITED else None
        kept.append((row, status, valid_until, visit_at, public_at))
        state.holder = Planned(row, status, valid_until, "", False, visit_at, public_at)
    return kept, conflicts


def plan_import(
    rows: list[Row],
    ledger: Mapping[str, LedgerCustomer],
    taken_receipts: Iterable[str],
    last_numbers: Mapping[str, int],
    policy: Policy,
    now: datetime,
) -> ImportPlan:
    """What to record and what not: ``ledger`` by masked phone, the receipt numbers the project has of
    those the file names (``taken_receipts``), and its last receipt number per local day (YYYYMMDD)."""
    kept, conflicts = _walk(rows, ledger, policy, now)
    tz = ZoneInfo(policy.timezone)
    taken = set(taken_receipts)
    last = dict(last_numbers)
    keeps: set[str] = set()
    for row, *_ in kept:  # the sheet's numbers first, so that the new ones are numbered after them
        receipt = row.receipt_no
        if receipt is not None and receipt not in taken and receipt not in keeps:
            keeps.add(receipt)
            day, number = receipt[len(RECEIPT_PREFIX):].split("-")
            last[day] = max(last.get(day, 0), int(number))
    planned: list[Planned] = []
    for row, status, valid_until, visit_at, public_at in kept:
        receipt = row.receipt_no
        if receipt is not None and receipt in keeps:
            keeps.discard(receipt)  # a number given twice in the file: the first row keeps it
        else:
            day = row.reported_at.astimezone(tz).strftime("%Y%m%d")
            last[day] = last.get(day, 0) + 1
            receipt_new = f"{RECEIPT_PREFIX}{day}-{last[day]:04d}"
            planned.append(Planned(row, status, valid_until, receipt_new, row.receipt_no is not None, visit_at,
                                   public_at))
            continue
        planned.append(Planned(row, status, valid_until, receipt, False, visit_at, public_at))
    return ImportPlan(tuple(planned), tuple(sorted(conflicts, key=lambda c: c.row.line)))


def receipt_days(plan: ImportPlan) -> dict[str, int]:
    """The last receipt number per local day the plan uses: the receipt counter moves up to these."""
    days: dict[str, int] = {}
    for p in plan.planned:
        day, number = p.receipt_no[len(RECEIPT_PREFIX):].split("-")
        days[day] = max(days.get(day, 0), int(number))
    return days
