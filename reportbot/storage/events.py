"""The audit chain (SPEC §9): every change an event, each chained by hash to the project's one before.

Writers of a project's events queue on its chain head's row lock (audit_head), taken first and held
until commit; on PostgreSQL the lock, the event and the head's move are one round trip.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import col

from reportbot.rules.audit import (
    GENESIS,
    Link,
    chain_link,
    event_content_around_report,
    personal_digest,
    split_detail,
    with_report,
)
from reportbot.rules.model import Event, EventKind
from reportbot.rules.teams import team_at
from reportbot.storage.base import Repository
from reportbot.storage.sql import values_list
from reportbot.storage.staff import team_changes
from reportbot.storage.tables import AuditHeadRow, EventRow, ReportRow, StaffRow


def chain_link_sql(prev: str, content: str) -> str:
    """rules.audit.chain_link in SQL: sha256(prev || '\n' || content) as UTF-8, in hex."""
    return f"encode(sha256(convert_to({prev} || E'\\n' || {content}, 'UTF8')), 'hex')"


# Creates the project's chain head at its first event, else takes the head's row lock (on PostgreSQL
# ON CONFLICT DO UPDATE locks the row as SELECT … FOR UPDATE would); either way returns the head.
LOCK_HEAD = (
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
         {chain_link_sql("head.last_hash", "$8")}, $9, $10
  FROM head RETURNING hash
)
UPDATE audit_head SET last_hash = appended.hash FROM appended WHERE audit_head.project_id = $1
RETURNING audit_head.last_hash
"""


@dataclass(frozen=True)
class Seal:
    """What chains an event besides the hash before it: its salt, its personal digest and its content."""

    salt: str
    personal_digest: str
    content_around_report: tuple[str, str]  # the content before and after the event's report id

    @classmethod
    def of(cls, project_id: int, phone: str, kind: EventKind, actor_id: int, at: datetime, detail: str | None) -> Seal:
        salt = secrets.token_hex(16)
        personal, public = split_detail(kind.value, detail)
        digest = personal_digest(salt, phone, personal)
        return cls(salt, digest, event_content_around_report(project_id, kind.value, actor_id, at, public, digest))

    def content(self, report_id: int | None) -> str:
        """rules.audit.event_content of the event."""
        return with_report(self.content_around_report, report_id)


class EventRepository(Repository):
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
        seal = Seal.of(project_id, phone, kind, actor_id, at, detail)
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
            prev = str(await sql.value(LOCK_HEAD, project_id, GENESIS))
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
            select(EventRow).where(col(EventRow.project_id) == project_id).order_by(col(EventRow.id))
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
            select(EventRow, col(StaffRow.name), col(StaffRow.team), col(ReportRow.receipt_no),
                   col(ReportRow.team), col(ReportRow.canvasser_id))
            .join(StaffRow, col(StaffRow.id) == EventRow.actor_id)
            .outerjoin(ReportRow, col(ReportRow.id) == EventRow.report_id)
            .where(col(EventRow.project_id) == project_id, col(EventRow.phone) == phone)
            .order_by(col(EventRow.at), col(EventRow.id))
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
            select(col(EventRow.kind))
            .where(
                col(EventRow.project_id) == project_id,
                col(EventRow.phone) == phone,
                col(EventRow.kind).in_([k.value for k in kinds]),
            )
            .order_by(col(EventRow.at), col(EventRow.id))
        )
        return [EventKind(k) for k in (await self.session.execute(stmt)).scalars()]

    async def count_between(self, project_id: int, kind: EventKind, start: datetime, end: datetime) -> int:
        stmt = select(func.count()).where(
            col(EventRow.project_id) == project_id, col(EventRow.kind) == kind.value,
            col(EventRow.at) >= start, col(EventRow.at) < end,
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def count(self, kind: EventKind) -> int:
        stmt = select(func.count()).where(col(EventRow.kind) == kind.value)
        return int((await self.session.execute(stmt)).scalar_one())
