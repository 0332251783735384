"""The ledger's tables (what the transports keep beside it: storage/transport_tables.py).

Rows stay inside storage/: repositories hand out rules.model dataclasses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from reportbot.storage.types import utc_column

# The statuses in which a report holds its customer (rules.model.ACTIVE_STATUSES), as SQL.
ACTIVE_SQL = "status IN ('pending', 'confirmed')"


class ProjectRow(SQLModel, table=True):
    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    tg_chat_id: str | None = Field(default=None, max_length=64, unique=True)
    wecom_chat_id: str | None = Field(default=None, max_length=128, unique=True)
    dingtalk_chat_id: str | None = Field(default=None, max_length=128, unique=True)
    feishu_chat_id: str | None = Field(default=None, max_length=128, unique=True)
    created_at: datetime = Field(sa_column=utc_column())


class StaffRow(SQLModel, table=True):
    __tablename__ = "staff"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=20)
    team: str = Field(max_length=20)
    role: str = Field(max_length=16)
    default_project_id: int | None = Field(default=None, foreign_key="project.id")
    created_at: datetime = Field(sa_column=utc_column())


class StaffIdentityRow(SQLModel, table=True):
    """How a staff member is reached: a per-channel user id, always a string."""

    __tablename__ = "staff_identity"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_identity_channel_external"),
        UniqueConstraint("staff_id", "channel", name="uq_identity_staff_channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=128)


class ReportRow(SQLModel, table=True):
    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("project_id", "receipt_no", name="uq_report_receipt"),
        # First come, first served, decided by the database: one active report per customer key.
        Index(
            "uq_report_active_customer",
            "project_id",
            "phone",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
        Index("ix_report_canvasser_status", "canvasser_id", "status"),
        Index("ix_report_project_customer", "project_id", "customer"),
        # "The customer's newest report" and /who by phone: without it, 0.5 s a report at 1,000,000 stored.
        Index("ix_report_customer_history", "project_id", "phone", "id"),
        # The sweep's "active reports past their validity" (the predicate spelled as ACTIVE_SQL to match).
        Index("ix_report_active_expiry", "valid_until", sqlite_where=text(ACTIVE_SQL), postgresql_where=text(ACTIVE_SQL)),
        # The web ledger's pages: one project's reports by time, read by key (storage ReportRepository.page).
        Index("ix_report_project_time", "project_id", "reported_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    receipt_no: str = Field(max_length=20)
    customer: str = Field(max_length=20)
    phone: str = Field(max_length=11)
    team: str = Field(max_length=20)
    canvasser_id: int = Field(foreign_key="staff.id")
    filed_by_id: int = Field(foreign_key="staff.id")
    appointment_at: datetime = Field(sa_column=utc_column())
    reported_at: datetime = Field(sa_column=utc_column())
    valid_until: datetime = Field(sa_column=utc_column())
    status: str = Field(max_length=16)
    note: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=200)
    decided_by_id: int | None = Field(default=None, foreign_key="staff.id")
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    reject_reason: str | None = Field(default=None, max_length=16)
    source_channel: str = Field(max_length=16)
    source_chat: str = Field(max_length=128)
    phone_hash: str | None = Field(default=None, max_length=80)  # keyed hash of a full number (rules.privacy)


class EventRow(SQLModel, table=True):
    """Append-only history of a customer: reports, refused duplicates, decisions."""

    __tablename__ = "event"
    __table_args__ = (
        # A customer's events in time order (/who's history, consecutive expiries). With "at" in it, SQLite
        # (no ANALYZE) no longer prefers ix_event_project_at for these and reads a whole project instead.
        Index("ix_event_customer_time", "project_id", "phone", "at", "id"),
        Index("ix_event_project_at", "project_id", "at"),  # statistics and export of a period
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    phone: str = Field(max_length=11)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    kind: str = Field(max_length=32)
    actor_id: int = Field(foreign_key="staff.id")
    at: datetime = Field(sa_column=utc_column())
    detail: str | None = Field(default=None, max_length=200)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # The chain commits to phone and personal detail through this salted digest (rules.audit);
    # /forget erases the fields and the salt, the digest stays.
    salt: str | None = Field(default=None, max_length=32)
    personal_digest: str = Field(max_length=64)


class AuditHeadRow(SQLModel, table=True):
    """The newest link of each project's audit chain; its row lock orders concurrent writers."""

    __tablename__ = "audit_head"

    project_id: int = Field(foreign_key="project.id", primary_key=True)
    last_hash: str = Field(max_length=64)


class ReceiptCounterRow(SQLModel, table=True):
    """The last receipt number handed out per project and local day (BB-YYYYMMDD-NNNN)."""

    __tablename__ = "receipt_counter"

    project_id: int = Field(foreign_key="project.id", primary_key=True)
    day: str = Field(max_length=8, primary_key=True)
    last: int = 0


class PublicCustomerRow(SQLModel, table=True):
    """A customer declared public (公号): no report is accepted while ``released_at`` is empty."""

    __tablename__ = "public_customer"
    __table_args__ = (
        Index(
            "uq_public_customer_open",
            "project_id",
            "phone",
            unique=True,
            sqlite_where=text("released_at IS NULL"),
            postgresql_where=text("released_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    phone: str = Field(max_length=11)
    declared_at: datetime = Field(sa_column=utc_column())
    released_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class DailyCounterRow(SQLModel, table=True):
    """Counters that keep no content, e.g. malformed reports per day (SPEC §3: only a counter)."""

    __tablename__ = "daily_counter"

    name: str = Field(max_length=32, primary_key=True)
    day: str = Field(max_length=8, primary_key=True)
    value: int = 0


class VisitRow(SQLModel, table=True):
    """A customer's first visit and the ownership decided then (later changes are events too)."""

    __tablename__ = "visit"
    __table_args__ = (
        # One visit per customer: per masked key when the full number is unknown, per keyed hash when
        # it is known (two customers sharing a masked key are then told apart).
        Index(
            "uq_visit_customer_masked",
            "project_id",
            "phone",
            unique=True,
            sqlite_where=text("phone_hash IS NULL"),
            postgresql_where=text("phone_hash IS NULL"),
        ),
        Index(
            "uq_visit_customer_exact",
            "project_id",
            "phone_hash",
            unique=True,
            sqlite_where=text("phone_hash IS NOT NULL"),
            postgresql_where=text("phone_hash IS NOT NULL"),
        ),
        # Every visit under a masked key, whatever its hash: the report path's and /who's lookup.
        Index("ix_visit_customer", "project_id", "phone"),
        # The sweep's owned visits without recent activity.
        Index(
            "ix_visit_owned_activity",
            "last_activity_at",
            sqlite_where=text("owner_id IS NOT NULL"),
            postgresql_where=text("owner_id IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    phone: str = Field(max_length=11)
    at: datetime = Field(sa_column=utc_column())
    registered_by_id: int = Field(foreign_key="staff.id")
    brought_by_id: int | None = Field(default=None, foreign_key="staff.id")
    companions: int = 0
    rule: str = Field(max_length=16)
    owner_id: int | None = Field(default=None, foreign_key="staff.id")
    report_id: int | None = Field(default=None, foreign_key="report.id")
    last_activity_at: datetime = Field(sa_column=utc_column())
    lapsed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    phone_hash: str | None = Field(default=None, max_length=80)


class FollowUpRow(SQLModel, table=True):
    __tablename__ = "follow_up"
    __table_args__ = (Index("ix_follow_up_report", "report_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    phone: str = Field(max_length=11)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    staff_id: int = Field(foreign_key="staff.id")
    at: datetime = Field(sa_column=utc_column())
    note: str = Field(max_length=200)


class ReminderRow(SQLModel, table=True):
    """A message due at a time. ``key`` makes planning idempotent; ``sent_at`` is set when claimed."""

    __tablename__ = "reminder"
    __table_args__ = (
        Index("ix_reminder_due", "due_at", sqlite_where=text("sent_at IS NULL"), postgresql_where=text("sent_at IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)
    project_id: int = Field(foreign_key="project.id")
    report_id: int | None = Field(default=None, foreign_key="report.id")
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    staff_id: int | None = Field(default=None, foreign_key="staff.id")  # the person to tell, if not the group
    due_at: datetime = Field(sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    outcome: str | None = Field(default=None, max_length=16)


class DealRow(SQLModel, table=True):
    """A deal (成交) of a visited customer, counted for whoever owned the customer then (team None: the office)."""

    __tablename__ = "deal"
    __table_args__ = (
        UniqueConstraint("project_id", "phone", name="uq_deal_customer"),
        Index("ix_deal_project_at", "project_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    phone: str = Field(max_length=11)
    visit_id: int = Field(foreign_key="visit.id")
    report_id: int | None = Field(default=None, foreign_key="report.id")
    owner_id: int | None = Field(default=None, foreign_key="staff.id")
    team: str | None = Field(default=None, max_length=20)
    at: datetime = Field(sa_column=utc_column())
    recorded_by_id: int = Field(foreign_key="staff.id")
    note: str | None = Field(default=None, max_length=200)


class TeamChangeRow(SQLModel, table=True):
    """A canvasser moved from one team to another: the history behind ``staff.team``."""

    __tablename__ = "team_change"
    __table_args__ = (Index("ix_team_change_staff", "staff_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id")
    from_team: str = Field(max_length=20)
    to_team: str = Field(max_length=20)
    at: datetime = Field(sa_column=utc_column())
    by_id: int = Field(foreign_key="staff.id")
