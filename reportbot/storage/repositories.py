"""Repositories: the only code that touches rows. Everything leaves here as a rules.model dataclass.

The statements of the report pipeline (who is writing, the customer's state, the receipt number, the
report, its event and reminders, the delivery key and the outbox) go straight to the driver through
``sql`` (storage/sql.py): through the ORM they cost ten times the database's own work. Everything
else goes through the ORM session; both share the unit's transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import delete, exists, func, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from reportbot.rules.audit import (
    GENESIS,
    Link,
    chain_link,
    event_content_around_report,
    personal_digest,
    split_detail,
    with_report,
)
from reportbot.rules.model import (
    ACTIVE_STATUSES,
    Event,
    EventKind,
    Project,
    RejectReason,
    Report,
    Role,
    Staff,
    Status,
    Visit,
)
from reportbot.rules.privacy import same_customer
from reportbot.rules.teams import TeamChange, team_at
from reportbot.storage.sql import Sql, values_list
from reportbot.storage.tables import (
    ACTIVE_SQL,
    AuditHeadRow,
    DailyCounterRow,
    DealRow,
    DeliveryRow,
    EventRow,
    FollowUpRow,
    OutboxRow,
    ProjectRow,
    PublicCustomerRow,
    ReminderRow,
    ReportRow,
    StaffIdentityRow,
    StaffRow,
    TeamChangeRow,
    VisitRow,
)

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL


class Unit(Protocol):
    """What a repository needs of its unit of work (storage.uow)."""

    dialect: str

    @property
    def session(self) -> AsyncSession: ...

    async def sql(self) -> Sql: ...


class _Repository:
    def __init__(self, unit: Unit) -> None:
        self._unit = unit
        self.dialect = unit.dialect

    @property
    def session(self) -> AsyncSession:
        """The unit's ORM session, opened on the unit's connection when first asked for."""
        return self._unit.session

    async def sql(self) -> Sql:
        return await self._unit.sql()


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _project(row: ProjectRow) -> Project:
    assert row.id is not None
    return Project(row.id, row.name, row.tg_chat_id, row.wecom_chat_id, row.dingtalk_chat_id, row.feishu_chat_id)


async def team_changes(session: AsyncSession, staff_ids: set[int]) -> dict[int, list[TeamChange]]:
    """Team moves of these people (usually none: one cheap query)."""
    if not staff_ids:
        return {}
    stmt = (
        select(TeamChangeRow)
        .where(TeamChangeRow.staff_id.in_(sorted(staff_ids)))
        .order_by(TeamChangeRow.at, TeamChangeRow.id)
    )
    moves: dict[int, list[TeamChange]] = {}
    for row in (await session.execute(stmt)).scalars():
        moves.setdefault(row.staff_id, []).append(TeamChange(row.staff_id, row.from_team, row.to_team, row.at))
    return moves


def _staff(row: StaffRow) -> Staff:
    assert row.id is not None
    return Staff(row.id, row.name, row.team, Role(row.role), row.default_project_id)


_PROJECT = "SELECT id, name, tg_chat_id, wecom_chat_id, dingtalk_chat_id, feishu_chat_id FROM project"
_PROJECT_BY_CHAT = {
    "telegram": f"{_PROJECT} WHERE tg_chat_id = $1",
    "wecom": f"{_PROJECT} WHERE wecom_chat_id = $1",
    "dingtalk": f"{_PROJECT} WHERE dingtalk_chat_id = $1",
    "feishu": f"{_PROJECT} WHERE feishu_chat_id = $1",
}


class ProjectRepository(_Repository):
    async def add(self, name: str, tg_chat_id: str | None, wecom_chat_id: str | None, now: datetime, *,
                  dingtalk_chat_id: str | None = None, feishu_chat_id: str | None = None) -> Project:
        row = ProjectRow(name=name, tg_chat_id=tg_chat_id, wecom_chat_id=wecom_chat_id,
                         dingtalk_chat_id=dingtalk_chat_id, feishu_chat_id=feishu_chat_id, created_at=now)
        self.session.add(row)
        await self.session.flush()
        return _project(row)

    async def get(self, project_id: int) -> Project | None:
        row = await (await self.sql()).row(f"{_PROJECT} WHERE id = $1", project_id)
        return Project(*row) if row else None

    async def by_name(self, name: str) -> Project | None:
        row = (await self.session.execute(select(ProjectRow).where(ProjectRow.name == name))).scalar_one_or_none()
        return _project(row) if row else None

    async def by_chat(self, channel: str, chat_id: str) -> Project | None:
        """The project whose group chat this is, on that channel (the console knows both kinds)."""
        statements = [_PROJECT_BY_CHAT[channel]] if channel in _PROJECT_BY_CHAT else [*_PROJECT_BY_CHAT.values()]
        sql = await self.sql()
        for stmt in statements:
            row = await sql.row(stmt, chat_id)
            if row:
                return Project(*row)
        return None

    async def all(self) -> list[Project]:
        return [Project(*row) for row in await (await self.sql()).rows(f"{_PROJECT} ORDER BY id")]


# The sender and their default project in one statement: every private message asks for both.
_STAFF_BY_IDENTITY = (
    "SELECT s.id, s.name, s.team, s.role, s.default_project_id, p.id, p.name, p.tg_chat_id, p.wecom_chat_id,"
    " p.dingtalk_chat_id, p.feishu_chat_id"
    " FROM staff_identity AS i JOIN staff AS s ON s.id = i.staff_id"
    " LEFT JOIN project AS p ON p.id = s.default_project_id"
    " WHERE i.channel = $1 AND i.external_id = $2"
)


class StaffRepository(_Repository):
    async def add(
        self,
        name: str,
        team: str,
        role: Role,
        default_project_id: int | None,
        identities: dict[str, str],
        now: datetime,
    ) -> Staff:
        row = StaffRow(name=name, team=team, role=role.value, default_project_id=default_project_id, created_at=now)
        self.session.add(row)
        await self.session.flush()
        assert row.id is not None
        for channel, external_id in identities.items():
            self.session.add(StaffIdentityRow(staff_id=row.id, channel=channel, external_id=external_id))
        await self.session.flush()
        return _staff(row)

    async def get(self, staff_id: int) -> Staff | None:
        row = await self.session.get(StaffRow, staff_id)
        return _staff(row) if row else None

    async def by_identity(self, channels: Sequence[str], external_id: str) -> Staff | None:
        """The staff member with this user id on the first of ``channels`` that knows it."""
        found = await self.by_identity_at_home(channels, external_id)
        return found[0] if found else None

    async def by_identity_at_home(
        self, channels: Sequence[str], external_id: str
    ) -> tuple[Staff, Project | None] | None:
        """As ``by_identity``, with the member's default project (None when they have none)."""
        sql = await self.sql()
        for channel in channels:
            row = await sql.row(_STAFF_BY_IDENTITY, channel, external_id)
            if row:
                staff_id, name, team, role, default_project_id, *project = row
                home = Project(*project) if project[0] is not None else None
                return Staff(staff_id, name, team, Role(role), default_project_id), home
        return None

    async def identity_taken(self, channel: str, external_id: str) -> bool:
        stmt = select(StaffIdentityRow.id).where(
            StaffIdentityRow.channel == channel, StaffIdentityRow.external_id == external_id
        )
        return (await self.session.execute(stmt)).first() is not None

    async def by_name(self, name: str, team: str | None = None) -> list[Staff]:
        """Staff registered under this name, in this team when one is given."""
        stmt = select(StaffRow).where(StaffRow.name == name)
        if team is not None:
            stmt = stmt.where(StaffRow.team == team)
        return [_staff(r) for r in (await self.session.execute(stmt.order_by(StaffRow.id))).scalars()]

    async def identities(self, staff_id: int) -> dict[str, str]:
        rows = await (await self.sql()).rows(
            "SELECT channel, external_id FROM staff_identity WHERE staff_id = $1", staff_id
        )
        return {channel: external_id for channel, external_id in rows}

    async def canvassers_of(self, project_id: int) -> list[Staff]:
        """The canvassers who may report for the project (at home there or in none), by team and name.

        One light query for the desk's and the ledger's lists, where ``all`` would load every identity too."""
        rows = await (await self.sql()).rows(
            "SELECT id, name, team, role, default_project_id FROM staff"
            " WHERE role = 'canvasser' AND (default_project_id IS NULL OR default_project_id = $1)",
            project_id,
        )
        found = [Staff(r[0], r[1], r[2], Role(r[3]), r[4]) for r in rows]
        return sorted(found, key=lambda s: (s.team, s.name, s.id))

    async def all(self) -> list[tuple[Staff, dict[str, str]]]:
        rows = list((await self.session.execute(select(StaffRow).order_by(StaffRow.id))).scalars())
        ids = (await self.session.execute(select(StaffIdentityRow))).scalars()
        by_staff: dict[int, dict[str, str]] = {}
        for ident in ids:
            by_staff.setdefault(ident.staff_id, {})[ident.channel] = ident.external_id
        return [(_staff(r), by_staff.get(r.id or 0, {})) for r in rows]


_CANVASSER = aliased(StaffRow)
_DECIDER = aliased(StaffRow)
# Built once: a report with the names of its canvasser and of whoever decided it.
_REPORT_SELECT = (
    select(ReportRow, _CANVASSER.name, _DECIDER.name)
    .join(_CANVASSER, _CANVASSER.id == ReportRow.canvasser_id)
    .outerjoin(_DECIDER, _DECIDER.id == ReportRow.decided_by_id)
)


@dataclass(frozen=True)
class LedgerFilter:
    """What the web ledger shows of one project (every field None: everything)."""

    project_id: int
    status: Status | None = None
    team: str | None = None
    canvasser_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    phone: str | None = None  # masked
    receipt: str | None = None
    customer: str | None = None
    newest_first: bool = True


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


def _chain_link_sql(prev: str, content: str) -> str:
    """rules.audit.chain_link in SQL: sha256(prev || '\n' || content) as UTF-8, in hex."""
    return f"encode(sha256(convert_to({prev} || E'\\n' || {content}, 'UTF8')), 'hex')"


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
         {_chain_link_sql("head.last_hash", "$24 || filed.id::text || $25")}, $23, $26
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


class ReportRepository(_Repository):

    @staticmethod
    def _select() -> Any:
        return _REPORT_SELECT

    @staticmethod
    def _report(row: ReportRow, canvasser_name: str, decided_by_name: str | None) -> Report:
        assert row.id is not None
        return Report(
            id=row.id,
            project_id=row.project_id,
            receipt_no=row.receipt_no,
            customer=row.customer,
            phone=row.phone,
            team=row.team,
            canvasser_id=row.canvasser_id,
            canvasser_name=canvasser_name,
            filed_by_id=row.filed_by_id,
            appointment_at=row.appointment_at,
            reported_at=row.reported_at,
            valid_until=row.valid_until,
            status=Status(row.status),
            note=row.note,
            reason=row.reason,
            decided_by_name=decided_by_name,
            decided_at=row.decided_at,
            reject_reason=RejectReason(row.reject_reason) if row.reject_reason else None,
            phone_hash=row.phone_hash,
        )

    async def _many(self, stmt: Any) -> list[Report]:
        return [self._report(*r) for r in (await self.session.execute(stmt)).all()]

    async def _one(self, stmt: Any) -> Report | None:
        found = await self._many(stmt)
        return found[0] if found else None

    async def get(self, report_id: int) -> Report | None:
        if not 0 < report_id <= MAX_ROW_ID:  # e.g. from forged button data: no such row, and PostgreSQL would refuse
            return None
        return await self._one(self._select().where(ReportRow.id == report_id))

    async def get_many(self, report_ids: Sequence[int]) -> list[Report]:
        """These reports, in the order asked (ids that name no report are left out)."""
        wanted = [r for r in report_ids if 0 < r <= MAX_ROW_ID]
        if not wanted:
            return []
        found = {r.id: r for r in await self._many(self._select().where(ReportRow.id.in_(sorted(set(wanted)))))}  # type: ignore[union-attr]
        return [found[r] for r in wanted if r in found]

    async def active_for(self, project_id: int, phone: str) -> Report | None:
        """The report that holds this customer now, if any."""
        stmt = self._select().where(
            ReportRow.project_id == project_id, ReportRow.phone == phone, ReportRow.status.in_(_ACTIVE)
        )
        return await self._one(stmt)

    async def count_active_of(self, canvasser_id: int) -> int:
        stmt = select(func.count()).where(ReportRow.canvasser_id == canvasser_id, ReportRow.status.in_(_ACTIVE))
        return int((await self.session.execute(stmt)).scalar_one())

    async def active_of(self, canvasser_id: int) -> list[Report]:
        stmt = (
            self._select()
            .where(ReportRow.canvasser_id == canvasser_id, ReportRow.status.in_(_ACTIVE))
            .order_by(ReportRow.valid_until, ReportRow.id)
        )
        return await self._many(stmt)

    async def by_receipt(self, project_ids: Iterable[int], receipt_no: str) -> list[Report]:
        stmt = self._select().where(ReportRow.project_id.in_(list(project_ids)), ReportRow.receipt_no == receipt_no)
        return await self._many(stmt)

    async def by_phone(self, project_ids: Iterable[int], phone: str) -> list[Report]:
        stmt = (
            self._select()
            .where(ReportRow.project_id.in_(list(project_ids)), ReportRow.phone == phone)
            .order_by(ReportRow.id)
        )
        return await self._many(stmt)

    async def by_customer(self, project_ids: Iterable[int], customer: str, limit: int = 20) -> list[Report]:
        stmt = (
            self._select()
            .where(ReportRow.project_id.in_(list(project_ids)), ReportRow.customer == customer)
            .order_by(ReportRow.id.desc())
            .limit(limit)
        )
        return await self._many(stmt)

    async def page(self, where: LedgerFilter, after: tuple[datetime, int] | None, limit: int) -> list[Report]:
        """One page of a project's ledger, newest first (or oldest), after a (reported_at, id) key: a keyset,
        not an OFFSET, so that page 2,000 costs what page 1 does (ix_report_project_time)."""
        stmt = self._select().where(ReportRow.project_id == where.project_id)
        if where.status is not None:
            stmt = stmt.where(ReportRow.status == where.status.value)
        if where.team is not None:
            stmt = stmt.where(ReportRow.team == where.team)
        if where.canvasser_id is not None:
            stmt = stmt.where(ReportRow.canvasser_id == where.canvasser_id)
        if where.start is not None:
            stmt = stmt.where(ReportRow.reported_at >= where.start)
        if where.end is not None:
            stmt = stmt.where(ReportRow.reported_at < where.end)
        if where.phone is not None:
            stmt = stmt.where(ReportRow.phone == where.phone)
        if where.receipt is not None:
            stmt = stmt.where(ReportRow.receipt_no == where.receipt)
        if where.customer is not None:
            stmt = stmt.where(ReportRow.customer == where.customer)
        key = tuple_(ReportRow.reported_at, ReportRow.id)
        if after is not None:
            stmt = stmt.where(key < tuple_(*after) if where.newest_first else key > tuple_(*after))
        order = (ReportRow.reported_at.desc(), ReportRow.id.desc()) if where.newest_first else (  # type: ignore[attr-defined]
            ReportRow.reported_at, ReportRow.id)
        return await self._many(stmt.order_by(*order).limit(limit))

    async def customer_state(
        self, project_id: int, phone: str, canvasser_id: int, phone_hash: str | None = None
    ) -> CustomerState:
        sql = await self.sql()
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

    async def file(self, new: NewReport, day: str, reminders: Sequence[PlannedReminder]) -> Report:
        """Number the report after ``new.receipt_prefix``, insert it, plan its reminders and chain its
        'reported' event, the project's audit head locked first; the partial unique index turns away a
        second active report."""
        sql = await self.sql()
        values = (
            new.project_id, new.receipt_prefix, new.customer, new.phone, new.team, new.canvasser_id, new.filed_by_id,
            new.appointment_at, new.reported_at, new.valid_until, Status.PENDING.value, new.note, new.reason,
            new.source_channel, new.source_chat, new.phone_hash,
        )  # fmt: skip
        reported = EventKind.REPORTED
        if sql.dialect == "postgresql":
            seal = _Seal.of(new.project_id, new.phone, reported, new.canvasser_id, new.reported_at, new.on_behalf)
            args = (
                *values, day, [r.kind for r in reminders], [r.due for r in reminders], [r.staff_id for r in reminders],
                reported.value, new.on_behalf, seal.salt, *seal.content_around_report, seal.personal_digest,
            )  # fmt: skip
            found = await sql.row(_FILE_REPORT_PG, *args)
            if found is None:  # the project's first event: make its head, then the same, the head now locked
                await sql.value(_LOCK_HEAD, new.project_id, GENESIS)
                found = await sql.row(_FILE_REPORT_PG, *args)
            assert found is not None
            return self._new(int(found[0]), str(found[1]), new)
        head = str(await sql.value(_LOCK_HEAD, new.project_id, GENESIS))
        receipt_no = receipt_number(new.receipt_prefix, int(await sql.value(_NEXT_RECEIPT, new.project_id, day)))
        report_id = int(await sql.value(_INSERT_REPORT, *values[:1], receipt_no, *values[2:]))
        await sql.execute_many(_PLAN, [
            (f"{r.kind}:{report_id}", r.kind, new.project_id, r.due, report_id, None, r.staff_id) for r in reminders
        ])
        await self._unit.events.add(
            project_id=new.project_id, phone=new.phone, kind=reported, actor_id=new.canvasser_id, at=new.reported_at,
            report_id=report_id, detail=new.on_behalf, prev=head,
        )
        return self._new(report_id, receipt_no, new)

    @staticmethod
    def _new(report_id: int, receipt_no: str, new: NewReport) -> Report:
        return Report(
            id=report_id, project_id=new.project_id, receipt_no=receipt_no, customer=new.customer,
            phone=new.phone, team=new.team, canvasser_id=new.canvasser_id, canvasser_name=new.canvasser_name,
            filed_by_id=new.filed_by_id, appointment_at=new.appointment_at, reported_at=new.reported_at,
            valid_until=new.valid_until, status=Status.PENDING, note=new.note, reason=new.reason,
            decided_by_name=None, decided_at=None, reject_reason=None, phone_hash=new.phone_hash,
        )  # fmt: skip

    async def decide(
        self,
        report_id: int,
        *,
        status: Status,
        by: int,
        at: datetime,
        reject_reason: RejectReason | None = None,
    ) -> bool:
        """Move a pending report to confirmed/rejected; False if it was not pending any more."""
        stmt = (
            update(ReportRow)
            .where(ReportRow.id == report_id, ReportRow.status == Status.PENDING.value)
            .values(
                status=status.value,
                decided_by_id=by,
                decided_at=at,
                reject_reason=reject_reason.value if reject_reason else None,
            )
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_status(self, report_id: int, status: Status, *, only_from: Iterable[Status]) -> bool:
        """Move a report on (visited, expired) if it is still in one of ``only_from``."""
        stmt = (
            update(ReportRow)
            .where(ReportRow.id == report_id, ReportRow.status.in_([s.value for s in only_from]))
            .values(status=status.value)
        )
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def due_to_expire(self, now: datetime, limit: int = 500) -> list[Report]:
        stmt = (
            self._select()
            # ACTIVE_SQL as written, not bound parameters: so the partial index ix_report_active_expiry applies.
            .where(text(f"report.{ACTIVE_SQL}"), ReportRow.valid_until <= now)
            .order_by(ReportRow.valid_until, ReportRow.id)
            .limit(limit)
        )
        return await self._many(stmt)

    async def expiring_between(self, project_id: int, start: datetime, end: datetime) -> list[Report]:
        stmt = (
            self._select()
            .where(
                ReportRow.project_id == project_id,
                ReportRow.status.in_(_ACTIVE),
                ReportRow.valid_until > start,
                ReportRow.valid_until <= end,
            )
            .order_by(ReportRow.valid_until, ReportRow.id)
        )
        return await self._many(stmt)

    async def latest_for(self, project_id: int, phone: str) -> Report | None:
        stmt = self._select().where(ReportRow.project_id == project_id, ReportRow.phone == phone)
        return await self._one(stmt.order_by(ReportRow.id.desc()).limit(1))

    async def is_public(self, project_id: int, phone: str) -> bool:
        stmt = select(PublicCustomerRow.id).where(
            PublicCustomerRow.project_id == project_id,
            PublicCustomerRow.phone == phone,
            PublicCustomerRow.released_at.is_(None),  # type: ignore[union-attr]
        )
        return (await self.session.execute(stmt)).first() is not None

    async def declare_public(self, project_id: int, phone: str, at: datetime) -> None:
        self.session.add(PublicCustomerRow(project_id=project_id, phone=phone, declared_at=at))
        await self.session.flush()

    async def release_public(self, project_id: int, phone: str, at: datetime) -> bool:
        stmt = (
            update(PublicCustomerRow)
            .where(
                PublicCustomerRow.project_id == project_id,
                PublicCustomerRow.phone == phone,
                PublicCustomerRow.released_at.is_(None),  # type: ignore[union-attr]
            )
            .values(released_at=at)
        )
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


# Creates the project's chain head at its first event, else takes the head's row lock (on PostgreSQL
# ON CONFLICT DO UPDATE locks the row as SELECT … FOR UPDATE would); either way returns the head.
_LOCK_HEAD = (
    "INSERT INTO audit_head (project_id, last_hash) VALUES ($1, $2)"
    " ON CONFLICT (project_id) DO UPDATE SET last_hash = audit_head.last_hash RETURNING last_hash"
)
_EVENT_COLUMNS = (
    "project_id", "phone", "report_id", "kind", "actor_id", "at", "detail", "prev_hash", "hash", "salt", "personal_digest",
)  # fmt: skip
_INSERT_EVENT = f"INSERT INTO event ({', '.join(_EVENT_COLUMNS)}) VALUES {values_list(1, len(_EVENT_COLUMNS))}"
_MOVE_HEAD = "UPDATE audit_head SET last_hash = $2 WHERE project_id = $1"
# PostgreSQL takes both in one round trip (a data-modifying WITH; SQLite has none): the head's row
# lock is held until commit, so every round trip saved there is one less that writers of the
# project queue behind.
_INSERT_EVENT_MOVE_HEAD = (
    f"WITH appended AS ({_INSERT_EVENT}) UPDATE audit_head SET last_hash = $9 WHERE project_id = $1"
)
# When the head is not locked yet, PostgreSQL locks it, chains the event and moves the head in ONE
# statement: Python sends the event's content ($8, rules.audit.event_content) and PostgreSQL computes
# sha256(prev || '\n' || content) as rules.audit.chain_link does, with the prev it has just locked. From
# that lock to the commit the project's other writers queue: one round trip fewer for them. No row
# back means the project has no head yet (its first event): then the two-statement way below.
_APPEND_EVENT_PG = f"""
WITH head AS (SELECT last_hash FROM audit_head WHERE project_id = $1 FOR UPDATE),
appended AS (
  INSERT INTO event (project_id, phone, report_id, kind, actor_id, at, detail, prev_hash, hash, salt, personal_digest)
  SELECT $1, $2, $3, $4, $5, $6, $7, head.last_hash,
         {_chain_link_sql("head.last_hash", "$8")}, $9, $10
  FROM head RETURNING hash
)
UPDATE audit_head SET last_hash = appended.hash FROM appended WHERE audit_head.project_id = $1
RETURNING audit_head.last_hash
"""


@dataclass(frozen=True)
class _Seal:
    """What chains an event besides the hash before it: its salt, its personal digest and its content."""

    salt: str
    personal_digest: str
    content_around_report: tuple[str, str]  # the content before and after the event's report id

    @classmethod
    def of(cls, project_id: int, phone: str, kind: EventKind, actor_id: int, at: datetime, detail: str | None) -> _Seal:
        salt = secrets.token_hex(16)
        personal, public = split_detail(kind.value, detail)
        digest = personal_digest(salt, phone, personal)
        return cls(salt, digest, event_content_around_report(project_id, kind.value, actor_id, at, public, digest))

    def content(self, report_id: int | None) -> str:
        """rules.audit.event_content of the event."""
        return with_report(self.content_around_report, report_id)


class EventRepository(_Repository):
    async def add(
        self,
        *,
        project_id: int,
        phone: str,
        kind: EventKind,
        actor_id: int,
        at: datetime,
        report_id: int | None = None,
        detail: str | None = None,
        prev: str | None = None,
    ) -> None:
        """Append an event, chained to the project's newest one (the head row's lock orders writers).

        ``prev``: the head as this transaction locked it already (``ReportRepository.file``)."""
        sql = await self.sql()
        seal = _Seal.of(project_id, phone, kind, actor_id, at, detail)
        salt, personal_hash = seal.salt, seal.personal_digest
        content = seal.content(report_id)
        if prev is None and sql.dialect == "postgresql":
            appended = await sql.value(
                _APPEND_EVENT_PG, project_id, phone, report_id, kind.value, actor_id, at, detail, content, salt,
                personal_hash,
            )
            if appended is not None:
                return
        if prev is None:
            prev = str(await sql.value(_LOCK_HEAD, project_id, GENESIS))
        link = chain_link(prev, content)
        values = (project_id, phone, report_id, kind.value, actor_id, at, detail, prev, link, salt, personal_hash)
        if sql.dialect == "postgresql":
            await sql.execute(_INSERT_EVENT_MOVE_HEAD, *values)
        else:
            await sql.execute(_INSERT_EVENT, *values)
            await sql.execute(_MOVE_HEAD, project_id, link)

    async def chain(self, project_id: int) -> tuple[list[Link], str | None]:
        """A project's events in id order with its chain head, for `reportbot audit verify`."""
        rows = (await self.session.execute(
            select(EventRow).where(EventRow.project_id == project_id).order_by(EventRow.id)
        )).scalars()
        links = [
            Link(r.id or 0, r.prev_hash, r.hash, r.project_id, r.phone, r.report_id, r.kind, r.actor_id, r.at, r.detail,
                 r.salt, r.personal_digest)
            for r in rows
        ]
        head = await self.session.get(AuditHeadRow, project_id)
        return links, head.last_hash if head else None

    async def history(self, project_id: int, phone: str) -> list[Event]:
        stmt = (
            select(EventRow, StaffRow.name, StaffRow.team, ReportRow.receipt_no, ReportRow.team, ReportRow.canvasser_id)
            .join(StaffRow, StaffRow.id == EventRow.actor_id)
            .outerjoin(ReportRow, ReportRow.id == EventRow.report_id)
            .where(EventRow.project_id == project_id, EventRow.phone == phone)
            .order_by(EventRow.at, EventRow.id)
        )
        rows = (await self.session.execute(stmt)).all()
        moves = await team_changes(self.session, {row.actor_id for row, *_ in rows})

        def team(row: EventRow, current: str, report_team: str | None, canvasser_id: int | None) -> str:
            """A report's canvasser acts for the report's team; anyone else for the team they were in then
            (a move between teams keeps history)."""
            if report_team is not None and canvasser_id == row.actor_id:
                return report_team
            return team_at(current, moves.get(row.actor_id, []), row.at)

        return [
            Event(row.at, EventKind(row.kind), row.phone, name, team(row, current, report_team, canvasser_id),
                  receipt, row.detail)
            for row, name, current, receipt, report_team, canvasser_id in rows
        ]

    async def kinds_since(self, project_id: int, phone: str, kinds: Iterable[EventKind]) -> list[EventKind]:
        """The customer's events of these kinds, oldest first (for counting consecutive expiries)."""
        stmt = (
            select(EventRow.kind)
            .where(
                EventRow.project_id == project_id,
                EventRow.phone == phone,
                EventRow.kind.in_([k.value for k in kinds]),
            )
            .order_by(EventRow.at, EventRow.id)
        )
        return [EventKind(k) for k in (await self.session.execute(stmt)).scalars()]

    async def count_between(self, project_id: int, kind: EventKind, start: datetime, end: datetime) -> int:
        stmt = select(func.count()).where(
            EventRow.project_id == project_id, EventRow.kind == kind.value, EventRow.at >= start, EventRow.at < end
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def count(self, kind: EventKind) -> int:
        stmt = select(func.count()).where(EventRow.kind == kind.value)
        return int((await self.session.execute(stmt)).scalar_one())


class CounterRepository(_Repository):
    async def bump(self, name: str, day: str) -> None:
        insert = _insert(self.dialect)
        stmt = (
            insert(DailyCounterRow)
            .values(name=name, day=day, value=1)
            .on_conflict_do_update(index_elements=["name", "day"], set_={"value": DailyCounterRow.value + 1})
        )
        await self.session.execute(stmt)

    async def get(self, name: str, day: str) -> int:
        row = await self.session.get(DailyCounterRow, (name, day))
        return row.value if row else 0


_OWNER = aliased(StaffRow)
_VISIT_SELECT = select(VisitRow, _OWNER.name, _OWNER.team).outerjoin(_OWNER, _OWNER.id == VisitRow.owner_id)


class VisitRepository(_Repository):

    @staticmethod
    def _select() -> Any:
        return _VISIT_SELECT

    @staticmethod
    def _visit(row: VisitRow, owner_name: str | None, owner_team: str | None) -> Visit:
        assert row.id is not None
        return Visit(
            id=row.id, project_id=row.project_id, phone=row.phone, at=row.at, rule=row.rule,
            owner_id=row.owner_id, owner_name=owner_name, owner_team=owner_team,
            brought_by_id=row.brought_by_id, companions=row.companions, report_id=row.report_id,
            last_activity_at=row.last_activity_at, lapsed_at=row.lapsed_at, phone_hash=row.phone_hash,
        )

    async def _many(self, stmt: Any) -> list[Visit]:
        return [self._visit(*r) for r in (await self.session.execute(stmt)).all()]

    async def lock_customer(self, project_id: int, phone: str) -> None:
        """Hold this customer (project, masked number) until the transaction ends: visits of one
        customer are then recorded one after another. A visit given with the full number and one given
        masked land in different unique indexes, so on PostgreSQL, where writers run at once, nothing
        else would stop both from being recorded. SQLite's write lock does this already."""
        sql = await self.sql()
        if sql.dialect == "postgresql":
            await sql.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", project_id, phone)

    async def of_customer(self, project_id: int, phone: str, phone_hash: str | None = None) -> Visit | None:
        """The customer's visit: by the masked key, told apart by the keyed hash where both sides have one."""
        stmt = self._select().where(VisitRow.project_id == project_id, VisitRow.phone == phone).order_by(VisitRow.id)
        found = [v for v in await self._many(stmt) if same_customer(v.phone_hash, phone_hash)]
        exact = [v for v in found if phone_hash is not None and v.phone_hash == phone_hash]
        return (exact or found or [None])[0]

    async def get(self, visit_id: int) -> Visit | None:
        found = await self._many(self._select().where(VisitRow.id == visit_id))
        return found[0] if found else None

    async def add(self, row: VisitRow) -> Visit:
        self.session.add(row)
        await self.session.flush()
        visit = await self.get(row.id or 0)
        assert visit is not None
        return visit

    async def set_owner(self, visit_id: int, owner_id: int | None, rule: str, at: datetime) -> None:
        stmt = (
            update(VisitRow)
            .where(VisitRow.id == visit_id)
            .values(owner_id=owner_id, rule=rule, last_activity_at=at, lapsed_at=None)
        )
        await self.session.execute(stmt)

    async def touch(self, visit_id: int, at: datetime) -> None:
        await self.session.execute(update(VisitRow).where(VisitRow.id == visit_id).values(last_activity_at=at))

    async def lapse(self, visit_id: int, at: datetime) -> bool:
        stmt = (
            update(VisitRow)
            .where(VisitRow.id == visit_id, VisitRow.owner_id.is_not(None))  # type: ignore[union-attr]
            .values(owner_id=None, lapsed_at=at)
        )
        return bool((await self.session.execute(stmt)).rowcount)  # type: ignore[attr-defined]

    async def idle_owned(self, before: datetime, limit: int = 500) -> list[Visit]:
        """Visits owned by a canvasser whose last follow-up (or the visit) is older than ``before``."""
        stmt = (
            self._select()
            .where(VisitRow.owner_id.is_not(None), VisitRow.last_activity_at <= before)  # type: ignore[union-attr]
            .where(~exists().where(DealRow.visit_id == VisitRow.id))  # a sold customer's ownership stays
            .order_by(VisitRow.last_activity_at, VisitRow.id)  # the longest idle first: ix_visit_owned_activity
            .limit(limit)
        )
        return await self._many(stmt)

    async def count_between(self, project_id: int, start: datetime, end: datetime) -> int:
        stmt = select(func.count()).where(VisitRow.project_id == project_id, VisitRow.at >= start, VisitRow.at < end)
        return int((await self.session.execute(stmt)).scalar_one())


class FollowUpRepository(_Repository):
    async def add(
        self, project_id: int, phone: str, report_id: int | None, staff_id: int, at: datetime, note: str
    ) -> None:
        self.session.add(
            FollowUpRow(project_id=project_id, phone=phone, report_id=report_id, staff_id=staff_id, at=at, note=note)
        )
        await self.session.flush()

    async def count_since(self, project_id: int, phone: str, since: datetime) -> int:
        stmt = select(func.count()).where(
            FollowUpRow.project_id == project_id, FollowUpRow.phone == phone, FollowUpRow.at >= since
        )
        return int((await self.session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class DueReminder:
    id: int
    kind: str
    project_id: int
    report_id: int | None
    visit_id: int | None
    staff_id: int | None
    due_at: datetime


_PLAN_COLUMNS = ("key", "kind", "project_id", "due_at", "report_id", "visit_id", "staff_id")
_PLAN = (
    f"INSERT INTO reminder ({', '.join(_PLAN_COLUMNS)}) VALUES {values_list(1, len(_PLAN_COLUMNS))}"
    " ON CONFLICT (key) DO NOTHING"
)


class ReminderRepository(_Repository):
    async def plan(
        self, key: str, kind: str, project_id: int, due: datetime, *, report_id: int | None = None,
        visit_id: int | None = None, staff_id: int | None = None,
    ) -> None:
        """Add the reminder unless one with this key exists (planning twice plans once)."""
        await self.plan_many([{"key": key, "kind": kind, "project_id": project_id, "due_at": due,
                               "report_id": report_id, "visit_id": visit_id, "staff_id": staff_id}])

    async def plan_many(self, rows: list[dict[str, Any]]) -> None:
        """Several reminders at once (a new report plans up to four)."""
        if not rows:
            return
        await (await self.sql()).execute_many(_PLAN, [
            (row["key"], str(row["kind"]), row["project_id"], row["due_at"], row.get("report_id"), row.get("visit_id"),
             row.get("staff_id"))
            for row in rows
        ])

    async def claim_due(self, now: datetime, limit: int = 1000) -> list[DueReminder]:
        """Mark the due, unsent reminders as sent and return them: the claim is the update itself,
        so of two bot processes sweeping at once each reminder goes to exactly one."""
        due = (
            select(ReminderRow.id)
            .where(ReminderRow.sent_at.is_(None), ReminderRow.due_at <= now)  # type: ignore[union-attr]
            .order_by(ReminderRow.due_at, ReminderRow.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list((await self.session.execute(due)).scalars())
        if not ids:
            return []
        stmt = (
            update(ReminderRow)
            .where(ReminderRow.id.in_(ids), ReminderRow.sent_at.is_(None))  # type: ignore[union-attr]
            .values(sent_at=now, outcome="sent")
            .returning(ReminderRow.id, ReminderRow.kind, ReminderRow.project_id, ReminderRow.report_id,
                       ReminderRow.visit_id, ReminderRow.staff_id, ReminderRow.due_at)
        )
        rows = (await self.session.execute(stmt)).all()
        return sorted((DueReminder(*r) for r in rows), key=lambda r: (r.due_at, r.id))

    async def exists(self, key: str) -> bool:
        return (await self.session.execute(select(ReminderRow.id).where(ReminderRow.key == key))).first() is not None

    async def unsent(self) -> int:
        stmt = select(func.count()).where(ReminderRow.sent_at.is_(None))  # type: ignore[union-attr]
        return int((await self.session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    channel: str
    chat_id: str
    payload: str
    was_in_flight: bool  # found in state 'sending': it may already have arrived


_CLAIM = (
    "INSERT INTO delivery (channel, key, received_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (channel, key) DO NOTHING RETURNING id"
)
_OUTBOX_COLUMNS = ("delivery_id", "channel", "chat_id", "payload", "state", "attempts", "created_at")


@lru_cache(maxsize=16)
def _queue_sql(rows: int) -> str:
    columns = ", ".join(_OUTBOX_COLUMNS)
    return f"INSERT INTO outbox ({columns}) VALUES {values_list(rows, len(_OUTBOX_COLUMNS))} RETURNING id"


class DeliveryRepository(_Repository):
    """Incoming keys already handled, and the answers they are owed (the outbox)."""

    async def claim(self, channel: str, key: str, at: datetime) -> int | None:
        """The new delivery's id, or None when this key was handled before (or is being handled now)."""
        found = await (await self.sql()).value(_CLAIM, channel, key, at)
        return None if found is None else int(found)

    async def queue(self, delivery_id: int | None, rows: Sequence[tuple[str, str, str]], at: datetime) -> list[int]:
        """Store answers (channel, chat, payload) in order; their ids, in the same order."""
        if not rows:
            return []
        values = [v for channel, chat, payload in rows for v in (delivery_id, channel, chat, payload, "pending", 0, at)]
        # The ids of a multi-row INSERT ascend in VALUES order on SQLite and PostgreSQL alike.
        return sorted(int(r[0]) for r in await (await self.sql()).rows(_queue_sql(len(rows)), *values))

    async def record_progress(self, *, sending: set[int], done: dict[int, bool], at: datetime) -> None:
        """Each started answer counts an attempt; a finished one is sent or failed (never back to sending)."""
        if sending:
            await self.session.execute(
                update(OutboxRow).where(OutboxRow.id.in_(sorted(sending)))  # type: ignore[union-attr]
                .values(attempts=OutboxRow.attempts + 1, state="sending")
            )
        for failed in (False, True):
            ids = sorted(i for i, f in done.items() if f is failed)
            if ids:
                await self.session.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(ids))  # type: ignore[union-attr]
                    .values(state="failed" if failed else "sent", sent_at=at)
                )

    async def prune(self, before: datetime) -> int:
        """Forget keys and finished answers older than ``before`` (no channel redelivers that late)."""
        finished = delete(OutboxRow).where(
            OutboxRow.created_at < before, OutboxRow.state.in_(("sent", "failed"))  # type: ignore[attr-defined]
        )
        await self.session.execute(finished)
        still_owed = select(OutboxRow.delivery_id).where(OutboxRow.delivery_id.is_not(None))  # type: ignore[union-attr]
        keys = delete(DeliveryRow).where(DeliveryRow.received_at < before, DeliveryRow.id.not_in(still_owed))  # type: ignore[union-attr]
        return int((await self.session.execute(keys)).rowcount or 0)

    async def unsent(self, channel: str, created_before: datetime | None = None) -> list[OutboxEntry]:
        stmt = (
            select(OutboxRow.id, OutboxRow.channel, OutboxRow.chat_id, OutboxRow.payload, OutboxRow.state)
            .where(OutboxRow.channel == channel, OutboxRow.state.in_(("pending", "sending")))  # type: ignore[attr-defined]
            .order_by(OutboxRow.id)
        )
        if created_before is not None:
            stmt = stmt.where(OutboxRow.created_at < created_before)
        rows = (await self.session.execute(stmt)).all()
        return [OutboxEntry(r.id, r.channel, r.chat_id, r.payload, r.state == "sending") for r in rows]
