"""Filing a report (SPEC §4): the checks' one read, and the write that numbers, stores and chains it.

Both are on every report's path, so both go straight to the driver (storage/sql.py): the customer's
state is one statement on either database; the filing is one round trip on PostgreSQL and a few calls
on SQLite. ReportRepository.customer_state and .file are the way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reportbot.rules.audit import GENESIS
from reportbot.rules.model import EventKind, Report, Status
from reportbot.rules.privacy import same_customer
from reportbot.storage.events import LOCK_HEAD, EventRepository, Seal, chain_link_sql
from reportbot.storage.reminders import PLAN
from reportbot.storage.sql import Sql, values_list
from reportbot.storage.tables import ACTIVE_SQL


@dataclass(frozen=True)
class LatestReport:
    """The customer's newest report, as far as filing a new one needs it."""

    id: int
    status: Status
    canvasser_id: int
    team: str
    reported_at: datetime


@dataclass(frozen=True)
class CustomerState:
    """Everything SPEC §4 checks before a report is accepted, read in one statement (a row per visit
    under the masked key: the keyed hashes tell their customers apart, as VisitRepository.of_customer)."""

    public: bool
    latest: LatestReport | None
    visited_at: datetime | None
    visit_owner_team: str | None  # None: not visited, or a natural visitor (the office's)
    active_of_canvasser: int


# One round trip for the checks of a new report: public?, the newest report, the visits, and how
# many active reports the canvasser holds. The joins are on (SELECT 1) so that a row exists either way.
_CUSTOMER_STATE = f"""
SELECT
  EXISTS (SELECT 1 FROM public_customer
          WHERE project_id = $1 AND phone = $2 AND released_at IS NULL),
  latest.id, latest.status, latest.canvasser_id, latest.team, latest.reported_at,
  visit.id, visit.at, owner.team, visit.phone_hash,
  (SELECT count(*) FROM report WHERE canvasser_id = $3 AND {ACTIVE_SQL})
FROM (SELECT 1 AS one) AS base
LEFT JOIN (SELECT id, status, canvasser_id, team, reported_at FROM report
           WHERE project_id = $1 AND phone = $2 ORDER BY id DESC LIMIT 1) AS latest ON 1 = 1
LEFT JOIN visit ON visit.project_id = $1 AND visit.phone = $2
LEFT JOIN staff AS owner ON owner.id = visit.owner_id
ORDER BY visit.id
"""
_NEXT_RECEIPT = (
    "INSERT INTO receipt_counter (project_id, day, last) VALUES ($1, $2, 1)"
    " ON CONFLICT (project_id, day) DO UPDATE SET last = receipt_counter.last + 1 RETURNING last"
)
_NEW_REPORT_COLUMNS = (
    "project_id", "receipt_no", "customer", "phone", "team", "canvasser_id", "filed_by_id", "appointment_at",
    "reported_at", "valid_until", "status", "note", "reason", "source_channel", "source_chat", "phone_hash",
)  # fmt: skip
_INSERT_REPORT = (
    f"INSERT INTO report ({', '.join(_NEW_REPORT_COLUMNS)}) VALUES {values_list(1, len(_NEW_REPORT_COLUMNS))}"
    " RETURNING id"
)


# PostgreSQL files a report in ONE round trip (data-modifying WITH; SQLite has none, and there every
# statement is a function call anyway): lock the project's audit head, number the report, insert it,
# plan its reminders, chain its 'reported' event and move the head. Each sub-statement reads the one
# before it, so they run, and take their row locks, in that order: head first, as every other writer of
# the project's events takes it. From the head's lock on, the project's other writers queue until this
# transaction commits: what is done here is not a round trip they wait for. The event's hash is
# sha256(prev || '\n' || content) as rules.audit.chain_link computes it; the content is
# rules.audit.event_content with the new report's id between its two halves ($24, $25).
# $2 is the receipt prefix; the number is padded to four digits as ``receipt_number`` pads it ($17 the
# day; $18–$20 the reminders' kinds, dues and staff; $21–$23 the event's kind, detail and salt; $26 its
# personal digest). No row back: the project has no head yet (its first event), and nothing was done.
_FILE_REPORT_PG = f"""
WITH head AS (
  SELECT last_hash FROM audit_head WHERE project_id = $1 FOR UPDATE
), counted AS (
  INSERT INTO receipt_counter (project_id, day, last) SELECT $1, $17, 1 FROM head
  ON CONFLICT (project_id, day) DO UPDATE SET last = receipt_counter.last + 1 RETURNING last
), filed AS (
  INSERT INTO report ({', '.join(_NEW_REPORT_COLUMNS)})
  SELECT $1, $2 || lpad(counted.last::text, greatest(4, length(counted.last::text)), '0'),
         $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16
  FROM counted RETURNING id, receipt_no
), planned AS (
  INSERT INTO reminder (key, kind, project_id, due_at, report_id, staff_id)
  SELECT plan.kind || ':' || filed.id, plan.kind, $1, plan.due, filed.id, plan.staff
  FROM filed, unnest($18::text[], $19::timestamptz[], $20::bigint[]) AS plan(kind, due, staff)
  ON CONFLICT (key) DO NOTHING
), appended AS (
  INSERT INTO event (project_id, phone, report_id, kind, actor_id, at, detail, prev_hash, hash, salt, personal_digest)
  SELECT $1, $4, filed.id, $21, $6, $9, $22, head.last_hash,
         {chain_link_sql("head.last_hash", "$24 || filed.id::text || $25")}, $23, $26
  FROM filed, head RETURNING hash
)
UPDATE audit_head SET last_hash = appended.hash FROM appended, filed WHERE audit_head.project_id = $1
RETURNING filed.id, filed.receipt_no
"""


def receipt_number(prefix: str, number: int) -> str:
    """'BB-20261123-0007': the day's number, at least four digits (_FILE_REPORT_PG pads alike)."""
    return f"{prefix}{number:04d}"


@dataclass(frozen=True)
class PlannedReminder:
    """A reminder of a report not yet filed: its key becomes ``kind:<report id>``."""

    kind: str
    due: datetime
    staff_id: int | None


@dataclass(frozen=True)
class NewReport:
    """A report about to be inserted (status pending)."""

    project_id: int
    receipt_prefix: str  # "BB-20261123-": the number is added as the report is filed (``file``)
    customer: str
    phone: str
    team: str
    canvasser_id: int
    canvasser_name: str
    filed_by_id: int
    appointment_at: datetime
    reported_at: datetime
    valid_until: datetime
    note: str | None
    reason: str | None
    source_channel: str
    source_chat: str
    phone_hash: str | None = None  # keyed hash of the full number, when one was given
    on_behalf: str | None = None  # who filed it for the canvasser: the detail of its 'reported' event


async def customer_state(
    sql: Sql, project_id: int, phone: str, canvasser_id: int, phone_hash: str | None = None
) -> CustomerState:
    rows = await sql.rows(_CUSTOMER_STATE, project_id, phone, canvasser_id)
    public, latest_id, status, holder_id, team, reported_at, *_, active = rows[0]
    latest = None
    if latest_id is not None:
        at = sql.time(reported_at)
        assert at is not None
        latest = LatestReport(latest_id, Status(status), holder_id, team, at)
    # The customer's visit: the first one the hashes do not tell apart, an exact match first.
    visits = [(at, owner, stored) for _, _, _, _, _, _, visit_id, at, owner, stored, _ in rows
              if visit_id is not None and same_customer(stored, phone_hash)]
    exact = [v for v in visits if phone_hash is not None and v[2] == phone_hash]
    visited_at, owner_team, _ = (exact or visits or [(None, None, None)])[0]
    return CustomerState(bool(public), latest, sql.time(visited_at), owner_team, int(active))


async def file(
    sql: Sql, events: EventRepository, new: NewReport, day: str, reminders: Sequence[PlannedReminder]
) -> Report:
    """Number the report after ``new.receipt_prefix``, insert it, plan its reminders and chain its
    'reported' event, the project's audit head locked first; the partial unique index turns away a
    second active report."""
    values = (
        new.project_id, new.receipt_prefix, new.customer, new.phone, new.team, new.canvasser_id, new.filed_by_id,
        new.appointment_at, new.reported_at, new.valid_until, Status.PENDING.value, new.note, new.reason,
        new.source_channel, new.source_chat, new.phone_hash,
    )  # fmt: skip
    reported = EventKind.REPORTED
    if sql.dialect == "postgresql":
        seal = Seal.of(new.project_id, new.phone, reported, new.canvasser_id, new.reported_at, new.on_behalf)
        args = (
            *values, day, [r.kind for r in reminders], [r.due for r in reminders], [r.staff_id for r in reminders],
            reported.value, new.on_behalf, seal.salt, *seal.content_around_report, seal.personal_digest,
        )  # fmt: skip
        found = await sql.row(_FILE_REPORT_PG, *args)
        if found is None:  # the project's first event: make its head, then the same, the head now locked
            await sql.value(LOCK_HEAD, new.project_id, GENESIS)
            found = await sql.row(_FILE_REPORT_PG, *args)
        assert found is not None
        return _new(int(found[0]), str(found[1]), new)
    head = str(await sql.value(LOCK_HEAD, new.project_id, GENESIS))
    receipt_no = receipt_number(new.receipt_prefix, int(await sql.value(_NEXT_RECEIPT, new.project_id, day)))
    report_id = int(await sql.value(_INSERT_REPORT, *values[:1], receipt_no, *values[2:]))
    await sql.execute_many(PLAN, [
        (f"{r.kind}:{report_id}", r.kind, new.project_id, r.due, report_id, None, r.staff_id) for r in reminders
    ])
    await events.add(
        project_id=new.project_id, phone=new.phone, kind=reported, actor_id=new.canvasser_id, at=new.reported_at,
        report_id=report_id, detail=new.on_behalf, prev=head,
    )
    return _new(report_id, receipt_no, new)


def _new(report_id: int, receipt_no: str, new: NewReport) -> Report:
    return Report(
        id=report_id, project_id=new.project_id, receipt_no=receipt_no, customer=new.customer,
        phone=new.phone, team=new.team, canvasser_id=new.canvasser_id, canvasser_name=new.canvasser_name,
        filed_by_id=new.filed_by_id, appointment_at=new.appointment_at, reported_at=new.reported_at,
        valid_until=new.valid_until, status=Status.PENDING, note=new.note, reason=new.reason,
        decided_by_name=None, decided_at=None, reject_reason=None, phone_hash=new.phone_hash,
    )  # fmt: skip
