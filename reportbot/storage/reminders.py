"""Reminders (SPEC §7): rows with a due time, planned once by key, claimed by the sweep and sent once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

from reportbot.storage.base import Repository, stored_id
from reportbot.storage.sql import values_list
from reportbot.storage.tables import ReminderRow


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
PLAN = (
    f"INSERT INTO reminder ({', '.join(_PLAN_COLUMNS)}) VALUES {values_list(1, len(_PLAN_COLUMNS))}"
    " ON CONFLICT (key) DO NOTHING"
)


class ReminderRepository(Repository):
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
        await (await self.sql()).execute_many(PLAN, [
            (row["key"], str(row["kind"]), row["project_id"], row["due_at"], row.get("report_id"), row.get("visit_id"),
             row.get("staff_id"))
            for row in rows
        ])

    async def claim_due(self, now: datetime, limit: int = 1000) -> list[DueReminder]:
        """Mark the due, unsent reminders as sent and return them: the claim is the update itself,
        so of two bot processes sweeping at once each reminder goes to exactly one."""
        due = (
            select(col(ReminderRow.id))
            .where(col(ReminderRow.sent_at).is_(None), col(ReminderRow.due_at) <= now)
            .order_by(col(ReminderRow.due_at), col(ReminderRow.id))
            .limit(limit)
        )
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list((await self.session.execute(due)).scalars())
        if not ids:
            return []
        stmt = (
            update(ReminderRow)
            .where(col(ReminderRow.id).in_(ids), col(ReminderRow.sent_at).is_(None))
            .values(sent_at=now, outcome="sent")
            .returning(col(ReminderRow.id), col(ReminderRow.kind), col(ReminderRow.project_id),
                       col(ReminderRow.report_id), col(ReminderRow.visit_id), col(ReminderRow.staff_id),
                       col(ReminderRow.due_at))
        )
        claimed = [
            DueReminder(stored_id(rid), kind, project_id, report_id, visit_id, staff_id, due_at)
            for rid, kind, project_id, report_id, visit_id, staff_id, due_at in (await self.session.execute(stmt)).all()
        ]
        return sorted(claimed, key=lambda r: (r.due_at, r.id))

    async def exists(self, key: str) -> bool:
        stmt = select(col(ReminderRow.id)).where(col(ReminderRow.key) == key)
        return (await self.session.execute(stmt)).first() is not None

    async def unsent(self) -> int:
        stmt = select(func.count()).where(col(ReminderRow.sent_at).is_(None))
        return int((await self.session.execute(stmt)).scalar_one())
