"""Repositories: the only code that touches rows. Everything leaves here as a rules.model dataclass."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from reportbot.rules.audit import GENESIS, Link, event_hash, personal_digest, split_detail
from reportbot.rules.privacy import same_customer
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
from reportbot.rules.teams import TeamChange, team_at
from reportbot.storage.tables import (
    AuditHeadRow,
    DailyCounterRow,
    DeliveryRow,
    DealRow,
    EventRow,
    FollowUpRow,
    OutboxRow,
    ProjectRow,
    PublicCustomerRow,
    ReceiptCounterRow,
    ReminderRow,
    ReportRow,
    StaffIdentityRow,
    StaffRow,
    TeamChangeRow,
    VisitRow,
)

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _project(row: ProjectRow) -> Project:
    assert row.id is not None
    return Project(row.id, row.name, row.tg_chat_id, row.wecom_chat_id)


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


class ProjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, name: str, tg_chat_id: str | None, wecom_chat_id: str | None, now: datetime) -> Project:
        row = ProjectRow(name=name, tg_chat_id=tg_chat_id, wecom_chat_id=wecom_chat_id, created_at=now)
        self.session.add(row)
        await self.session.flush()
        return _project(row)

    async def get(self, project_id: int) -> Project | None:
        row = await self.session.get(ProjectRow, project_id)
        return _project(row) if row else None

    async def by_name(self, name: str) -> Project | None:
        row = (await self.session.execute(select(ProjectRow).where(ProjectRow.name == name))).scalar_one_or_none()
        return _project(row) if row else None

    async def by_chat(self, channel: str, chat_id: str) -> Project | None:
        """The project whose group chat this is, on that channel (the console knows both kinds)."""
        columns = {"telegram": [ProjectRow.tg_chat_id], "wecom": [ProjectRow.wecom_chat_id]}.get(
            channel, [ProjectRow.tg_chat_id, ProjectRow.wecom_chat_id]
        )
        for column in columns:
            row = (await self.session.execute(select(ProjectRow).where(column == chat_id))).scalar_one_or_none()
            if row:
                return _project(row)
        return None

    async def all(self) -> list[Project]:
        rows = (await self.session.execute(select(ProjectRow).order_by(ProjectRow.id))).scalars()
        return [_project(r) for r in rows]


class StaffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
        for channel in channels:
            stmt = (
                select(StaffRow)
                .join(StaffIdentityRow, StaffIdentityRow.staff_id == StaffRow.id)
                .where(StaffIdentityRow.channel == channel, StaffIdentityRow.external_id == external_id)
            )
            row = (await self.session.execute(stmt)).scalar_one_or_none()
            if row:
                return _staff(row)
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
        stmt = select(StaffIdentityRow).where(StaffIdentityRow.staff_id == staff_id)
        return {r.channel: r.external_id for r in (await self.session.execute(stmt)).scalars()}

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


class ReportRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.dialect = dialect

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

    async def next_receipt_number(self, project_id: int, day: str) -> int:
        """Hand out the next number of this project's day; the row lock orders concurrent writers."""
        insert = _insert(self.dialect)
        stmt = (
            insert(ReceiptCounterRow)
            .values(project_id=project_id, day=day, last=1)
            .on_conflict_do_update(
                index_elements=["project_id", "day"], set_={"last": ReceiptCounterRow.last + 1}
            )
            .returning(ReceiptCounterRow.last)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def add(self, row: ReportRow, canvasser_name: str) -> Report:
        """Insert a new report; the row as flushed is the answer (no second round trip)."""
        self.session.add(row)
        await self.session.flush()
        return self._report(row, canvasser_name, None)

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
            .where(ReportRow.status.in_(_ACTIVE), ReportRow.valid_until <= now)
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


class EventRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.dialect = dialect

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
    ) -> None:
        """Append an event, chained to the project's newest one (the head row's lock orders writers)."""
        prev = await self._lock_head(project_id)
        salt = secrets.token_hex(16)
        personal, public = split_detail(kind.value, detail)
        personal_hash = personal_digest(salt, phone, personal)
        link = event_hash(prev, project_id, report_id, kind.value, actor_id, at, public, personal_hash)
        self.session.add(
            EventRow(
                project_id=project_id,
                phone=phone,
                report_id=report_id,
                kind=kind.value,
                actor_id=actor_id,
                at=at,
                detail=detail,
                prev_hash=prev,
                hash=link,
                salt=salt,
                personal_digest=personal_hash,
            )
        )
        await self.session.execute(
            update(AuditHeadRow).where(AuditHeadRow.project_id == project_id).values(last_hash=link)
        )
        await self.session.flush()

    async def _lock_head(self, project_id: int) -> str:
        await self.session.execute(
            _insert(self.dialect)(AuditHeadRow).values(project_id=project_id, last_hash=GENESIS).on_conflict_do_nothing()
        )
        stmt = select(AuditHeadRow.last_hash).where(AuditHeadRow.project_id == project_id).with_for_update()
        return str((await self.session.execute(stmt)).scalar_one())

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


class CounterRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.dialect = dialect

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


class VisitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
            .order_by(VisitRow.id)
            .limit(limit)
        )
        return await self._many(stmt)

    async def count_between(self, project_id: int, start: datetime, end: datetime) -> int:
        stmt = select(func.count()).where(VisitRow.project_id == project_id, VisitRow.at >= start, VisitRow.at < end)
        return int((await self.session.execute(stmt)).scalar_one())


class FollowUpRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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


class ReminderRepository:
    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.dialect = dialect

    async def plan(
        self, key: str, kind: str, project_id: int, due: datetime, *, report_id: int | None = None,
        visit_id: int | None = None, staff_id: int | None = None,
    ) -> None:
        """Add the reminder unless one with this key exists (planning twice plans once)."""
        await self.plan_many([dict(key=key, kind=kind, project_id=project_id, due_at=due, report_id=report_id,
                                   visit_id=visit_id, staff_id=staff_id)])

    async def plan_many(self, rows: list[dict[str, Any]]) -> None:
        """Several reminders in one statement (a new report plans up to four)."""
        if not rows:
            return
        full = [{"report_id": None, "visit_id": None, "staff_id": None, **row} for row in rows]
        stmt = _insert(self.dialect)(ReminderRow).values(full).on_conflict_do_nothing(index_elements=["key"])
        await self.session.execute(stmt)

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


class DeliveryRepository:
    """Incoming keys already handled, and the answers they are owed (the outbox)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self.session = session
        self.dialect = dialect

    async def claim(self, channel: str, key: str, at: datetime) -> int | None:
        """The new delivery's id, or None when this key was handled before (or is being handled now)."""
        stmt = (
            _insert(self.dialect)(DeliveryRow)
            .values(channel=channel, key=key, received_at=at)
            .on_conflict_do_nothing(index_elements=["channel", "key"])
            .returning(DeliveryRow.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def queue(self, delivery_id: int | None, rows: Sequence[tuple[str, str, str]], at: datetime) -> list[int]:
        """Store answers (channel, chat, payload) in order; their ids, in the same order."""
        if not rows:
            return []
        stmt = (
            _insert(self.dialect)(OutboxRow)
            .values([dict(delivery_id=delivery_id, channel=channel, chat_id=chat, payload=payload, state="pending",
                          attempts=0, created_at=at) for channel, chat, payload in rows])
            .returning(OutboxRow.id)
        )
        # RETURNING of a multi-row INSERT comes back in VALUES order on SQLite and PostgreSQL alike.
        return sorted((await self.session.execute(stmt)).scalars())

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

    async def unsent(self, channel: str) -> list[OutboxEntry]:
        stmt = (
            select(OutboxRow.id, OutboxRow.channel, OutboxRow.chat_id, OutboxRow.payload, OutboxRow.state)
            .where(OutboxRow.channel == channel, OutboxRow.state.in_(("pending", "sending")))  # type: ignore[attr-defined]
            .order_by(OutboxRow.id)
        )
        rows = (await self.session.execute(stmt)).all()
        return [OutboxEntry(r.id, r.channel, r.chat_id, r.payload, r.state == "sending") for r in rows]
