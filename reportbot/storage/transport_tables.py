"""What the transports keep beside the ledger: the keys of incoming messages already handled, the answers
they are owed (the outbox), the dead letters, the web's sign-ins and the gathered group cards.

The ledger's own tables: storage/tables.py. Both register on SQLModel.metadata (migrations/env.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

import reportbot.storage.tables  # noqa: F401  (the ledger's tables, which these name in foreign keys)
from reportbot.storage.types import utc_column

UNSENT_SQL = "state IN ('pending', 'sending')"


class DeliveryRow(SQLModel, table=True):
    """An incoming message or press already handled: the channel's own id for it is the key.

    Telegram (and WeCom) deliver at least once; the unique key makes the second delivery a no-op,
    decided in the same transaction that records what the first one did.
    """

    __tablename__ = "delivery"
    __table_args__ = (UniqueConstraint("channel", "key", name="uq_delivery_channel_key"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    key: str = Field(max_length=128)
    received_at: datetime = Field(sa_column=utc_column())


class OutboxRow(SQLModel, table=True):
    """An answer stored with the change that caused it, so that a crash before sending loses nothing.

    ``state``: pending → sending → sent | failed. A row found in ``sending`` after a crash may or may
    not have arrived; it is sent again (a repeated receipt beats a missing one) and ``attempts`` shows it.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unsent", "id", sqlite_where=text(UNSENT_SQL), postgresql_where=text(UNSENT_SQL)),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", index=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    payload: str  # the action as JSON (handlers.journal)
    state: str = Field(default="pending", max_length=8)
    attempts: int = 0
    created_at: datetime = Field(sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))



OPEN_DEAD_SQL = "state IN ('open', 'retry')"


class DeadLetterRow(SQLModel, table=True):
    """A message or press that kept failing while the database was healthy: set aside, never silently.

    One row per delivery key: the same message failing again counts ``failures``. ``state``: open → retry
    (``reportbot deadletters retry``; the running bot handles it again) → done, or open → dismissed.
    ``text`` is the message with every whole phone number masked, or a press's button data.
    """

    __tablename__ = "dead_letter"
    __table_args__ = (
        UniqueConstraint("channel", "key", name="uq_dead_letter_channel_key"),
        Index("ix_dead_letter_open", "id", sqlite_where=text(OPEN_DEAD_SQL), postgresql_where=text(OPEN_DEAD_SQL)),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    key: str = Field(max_length=128)
    kind: str = Field(max_length=8)  # message | press
    sender_id: str = Field(max_length=128)
    chat_id: str = Field(max_length=128)
    is_group: bool = False
    message_id: str | None = Field(default=None, max_length=64)
    text: str
    error: str = Field(max_length=500)
    failures: int = 1
    state: str = Field(default="open", max_length=10)
    received_at: datetime = Field(sa_column=utc_column())  # when the channel delivered it: the time it is handled as
    last_failed_at: datetime = Field(sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class WebTokenRow(SQLModel, table=True):
    """A one-time sign-in link (/web): its token's SHA-256 only, bound to one person, 10 minutes, used once."""

    __tablename__ = "web_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff.id")
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class WebSessionRow(SQLModel, table=True):
    """A signed-in browser: the cookie's SHA-256, the person and what they were when it began (a change of
    role, team or name ends it), its CSRF token, and when it was last used (12 h idle, 7 days at most)."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_staff", "staff_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff.id")
    csrf: str = Field(max_length=64)
    role: str = Field(max_length=16)
    team: str = Field(max_length=20)
    name: str = Field(max_length=20)
    started_at: datetime = Field(sa_column=utc_column())
    last_seen_at: datetime = Field(sa_column=utc_column())
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ended_reason: str | None = Field(default=None, max_length=32)


class GroupCardRow(SQLModel, table=True):
    """A gathered card: several reports on one group message, posted when the group's queue fell behind
    its channel's limit (or a card resent after a crash). A report's live card is the newest one it is on."""

    __tablename__ = "group_card"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=utc_column())


class GroupCardReportRow(SQLModel, table=True):
    """A report on a gathered card, at its place in the list."""

    __tablename__ = "group_card_report"
    __table_args__ = (Index("ix_group_card_report_report", "report_id", "card_id"),)

    card_id: int = Field(foreign_key="group_card.id", primary_key=True)
    report_id: int = Field(foreign_key="report.id", primary_key=True)
    position: int
