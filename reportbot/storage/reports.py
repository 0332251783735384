"""Reports (报备): the ledger's rows, read for every query, moved on by decisions, visits and expiry;
and the public customers (公号) no report is accepted for. Filing a new one: storage/report_filing.py."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.orm import aliased
from sqlmodel import col

from reportbot.rules.model import ACTIVE_STATUSES, RejectReason, Report, Status
from reportbot.storage import report_filing
from reportbot.storage.base import MAX_ROW_ID, Repository, Unit, rowcount
from reportbot.storage.events import EventRepository
from reportbot.storage.report_filing import CustomerState, NewReport, PlannedReminder
from reportbot.storage.tables import ACTIVE_SQL, PublicCustomerRow, ReportRow, StaffRow

_ACTIVE = [s.value for s in ACTIVE_STATUSES]
_CANVASSER = aliased(StaffRow)
_DECIDER = aliased(StaffRow)
# Built once: a report with the names of its canvasser and of whoever decided it.
_REPORT_SELECT = (
    select(ReportRow, col(_CANVASSER.name), col(_DECIDER.name))
    .join(_CANVASSER, col(_CANVASSER.id) == ReportRow.canvasser_id)
    .outerjoin(_DECIDER, col(_DECIDER.id) == ReportRow.decided_by_id)
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


class ReportRepository(Repository):
    def __init__(self, unit: Unit) -> None:
        super().__init__(unit)
        self._events = EventRepository(unit)  # a report's filing chains its 'reported' event (SQLite)

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
        return await self._one(self._select().where(col(ReportRow.id) == report_id))

    async def get_many(self, report_ids: Sequence[int]) -> list[Report]:
        """These reports, in the order asked (ids that name no report are left out)."""
        wanted = [r for r in report_ids if 0 < r <= MAX_ROW_ID]
        if not wanted:
            return []
        stmt = self._select().where(col(ReportRow.id).in_(sorted(set(wanted))))
        found = {r.id: r for r in await self._many(stmt)}
        return [found[r] for r in wanted if r in found]

    async def active_for(self, project_id: int, phone: str) -> Report | None:
        """The report that holds this customer now, if any."""
        stmt = self._select().where(
            col(ReportRow.project_id) == project_id, col(ReportRow.phone) == phone,
            col(ReportRow.status).in_(_ACTIVE),
        )
        return await self._one(stmt)

    async def count_active_of(self, canvasser_id: int) -> int:
        stmt = select(func.count()).where(
            col(ReportRow.canvasser_id) == canvasser_id, col(ReportRow.status).in_(_ACTIVE)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def active_of(self, canvasser_id: int) -> list[Report]:
        stmt = (
            self._select()
            .where(col(ReportRow.canvasser_id) == canvasser_id, col(ReportRow.status).in_(_ACTIVE))
            .order_by(col(ReportRow.valid_until), col(ReportRow.id))
        )
        return await self._many(stmt)

    async def by_receipt(self, project_ids: Iterable[int], receipt_no: str) -> list[Report]:
        stmt = self._select().where(
            col(ReportRow.project_id).in_(list(project_ids)), col(ReportRow.receipt_no) == receipt_no
        )
        return await self._many(stmt)

    async def by_phone(self, project_ids: Iterable[int], phone: str) -> list[Report]:
        stmt = (
            self._select()
            .where(col(ReportRow.project_id).in_(list(project_ids)), col(ReportRow.phone) == phone)
            .order_by(col(ReportRow.id))
        )
        return await self._many(stmt)

    async def by_customer(self, project_ids: Iterable[int], customer: str, limit: int = 20) -> list[Report]:
        stmt = (
            self._select()
            .where(col(ReportRow.project_id).in_(list(project_ids)), col(ReportRow.customer) == customer)
            .order_by(col(ReportRow.id).desc())
            .limit(limit)
        )
        return await self._many(stmt)

    async def page(self, where: LedgerFilter, after: tuple[datetime, int] | None, limit: int) -> list[Report]:
        """One page of a project's ledger, newest first (or oldest), after a (reported_at, id) key: a keyset,
        not an OFFSET, so that page 2,000 costs what page 1 does (ix_report_project_time)."""
        stmt = self._select().where(col(ReportRow.project_id) == where.project_id)
        if where.status is not None:
            stmt = stmt.where(col(ReportRow.status) == where.status.value)
        if where.team is not None:
            stmt = stmt.where(col(ReportRow.team) == where.team)
        if where.canvasser_id is not None:
            stmt = stmt.where(col(ReportRow.canvasser_id) == where.canvasser_id)
        if where.start is not None:
            stmt = stmt.where(col(ReportRow.reported_at) >= where.start)
        if where.end is not None:
            stmt = stmt.where(col(ReportRow.reported_at) < where.end)
        if where.phone is not None:
            stmt = stmt.where(col(ReportRow.phone) == where.phone)
        if where.receipt is not None:
            stmt = stmt.where(col(ReportRow.receipt_no) == where.receipt)
        if where.customer is not None:
            stmt = stmt.where(col(ReportRow.customer) == where.customer)
        key = tuple_(col(ReportRow.reported_at), col(ReportRow.id))
        if after is not None:
            stmt = stmt.where(key < tuple_(*after) if where.newest_first else key > tuple_(*after))
        order = (col(ReportRow.reported_at).desc(), col(ReportRow.id).desc()) if where.newest_first else (
            col(ReportRow.reported_at), col(ReportRow.id))
        return await self._many(stmt.order_by(*order).limit(limit))

    async def customer_state(
        self, project_id: int, phone: str, canvasser_id: int, phone_hash: str | None = None
    ) -> CustomerState:
        """Everything SPEC §4 checks before a report is accepted, in one statement."""
        return await report_filing.customer_state(await self.sql(), project_id, phone, canvasser_id, phone_hash)

    async def file(self, new: NewReport, day: str, reminders: Sequence[PlannedReminder]) -> Report:
        """Number the report after ``new.receipt_prefix``, insert it, plan its reminders and chain its
        'reported' event, the project's audit head locked first; the partial unique index turns away a
        second active report."""
        return await report_filing.file(await self.sql(), self._events, new, day, reminders)

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
            .where(col(ReportRow.id) == report_id, col(ReportRow.status) == Status.PENDING.value)
            .values(
                status=status.value,
                decided_by_id=by,
                decided_at=at,
                reject_reason=reject_reason.value if reject_reason else None,
            )
        )
        result = await self.session.execute(stmt)
        return bool(rowcount(result))

    async def set_status(self, report_id: int, status: Status, *, only_from: Iterable[Status]) -> bool:
        """Move a report on (visited, expired) if it is still in one of ``only_from``."""
        stmt = (
            update(ReportRow)
            .where(col(ReportRow.id) == report_id, col(ReportRow.status).in_([s.value for s in only_from]))
            .values(status=status.value)
        )
        return bool(rowcount(await self.session.execute(stmt)))

    async def due_to_expire(self, now: datetime, limit: int = 500) -> list[Report]:
        stmt = (
            self._select()
            # ACTIVE_SQL as written, not bound parameters: so the partial index ix_report_active_expiry applies.
            .where(text(f"report.{ACTIVE_SQL}"), col(ReportRow.valid_until) <= now)
            .order_by(col(ReportRow.valid_until), col(ReportRow.id))
            .limit(limit)
        )
        return await self._many(stmt)

    async def expiring_between(self, project_id: int, start: datetime, end: datetime) -> list[Report]:
        stmt = (
            self._select()
            .where(
                col(ReportRow.project_id) == project_id,
                col(ReportRow.status).in_(_ACTIVE),
                col(ReportRow.valid_until) > start,
                col(ReportRow.valid_until) <= end,
            )
            .order_by(col(ReportRow.valid_until), col(ReportRow.id))
        )
        return await self._many(stmt)

    async def latest_for(self, project_id: int, phone: str) -> Report | None:
        stmt = self._select().where(col(ReportRow.project_id) == project_id, col(ReportRow.phone) == phone)
        return await self._one(stmt.order_by(col(ReportRow.id).desc()).limit(1))

    async def is_public(self, project_id: int, phone: str) -> bool:
        stmt = select(col(PublicCustomerRow.id)).where(
            col(PublicCustomerRow.project_id) == project_id,
            col(PublicCustomerRow.phone) == phone,
            col(PublicCustomerRow.released_at).is_(None),
        )
        return (await self.session.execute(stmt)).first() is not None

    async def declare_public(self, project_id: int, phone: str, at: datetime) -> None:
        self.session.add(PublicCustomerRow(project_id=project_id, phone=phone, declared_at=at))
        await self.session.flush()

    async def release_public(self, project_id: int, phone: str, at: datetime) -> bool:
        stmt = (
            update(PublicCustomerRow)
            .where(
                col(PublicCustomerRow.project_id) == project_id,
                col(PublicCustomerRow.phone) == phone,
                col(PublicCustomerRow.released_at).is_(None),
            )
            .values(released_at=at)
        )
        return bool(rowcount(await self.session.execute(stmt)))
