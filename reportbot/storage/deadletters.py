"""The dead-letter list: messages and presses set aside after failing with the database healthy (SPEC §13)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reportbot.storage.base import rowcount, stored_id
from reportbot.storage.transport_tables import DeadLetterRow

OPEN_STATES = ("open", "retry")


@dataclass(frozen=True)
class DeadLetter:
    id: int
    channel: str
    key: str
    kind: str  # message | press
    sender_id: str
    chat_id: str
    is_group: bool
    message_id: str | None
    text: str  # whole phone numbers masked; a press: its button data
    error: str
    failures: int
    state: str  # open | retry | done | dismissed
    received_at: datetime
    last_failed_at: datetime
    closed_at: datetime | None


def _letter(row: DeadLetterRow) -> DeadLetter:
    assert row.id is not None
    return DeadLetter(row.id, row.channel, row.key, row.kind, row.sender_id, row.chat_id, row.is_group,
                      row.message_id, row.text, row.error, row.failures, row.state, row.received_at,
                      row.last_failed_at, row.closed_at)


class DeadLetterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def set_aside(self, row: DeadLetterRow) -> tuple[DeadLetter, bool]:
        """Store ``row``, or count one more failure of the letter with its key; (the letter, whether new)."""
        same_key = (col(DeadLetterRow.channel) == row.channel, col(DeadLetterRow.key) == row.key)
        found = (await self.session.execute(select(DeadLetterRow).where(*same_key))).scalar_one_or_none()
        if found is None:
            self.session.add(row)
            await self.session.flush()
            return _letter(row), True
        found.failures += 1
        found.error = row.error
        found.last_failed_at = row.last_failed_at
        found.state = "open"
        found.closed_at = None
        await self.session.flush()
        return _letter(found), False

    async def get(self, letter_id: int) -> DeadLetter | None:
        row = await self.session.get(DeadLetterRow, letter_id)
        return None if row is None else _letter(row)

    async def listed(self, *, only_open: bool = True, limit: int = 200) -> list[DeadLetter]:
        stmt = select(DeadLetterRow).order_by(col(DeadLetterRow.id)).limit(limit)
        if only_open:
            stmt = stmt.where(col(DeadLetterRow.state).in_(OPEN_STATES))
        return [_letter(r) for r in (await self.session.execute(stmt)).scalars()]

    async def request_retry(self, ids: Sequence[int] | None) -> list[int]:
        """Open letters (these, or all) marked for the running bot to handle again; their ids."""
        stmt = update(DeadLetterRow).where(col(DeadLetterRow.state) == "open")
        if ids is not None:
            stmt = stmt.where(col(DeadLetterRow.id).in_(list(ids)))
        result = await self.session.execute(stmt.values(state="retry").returning(col(DeadLetterRow.id)))
        return sorted(stored_id(i) for i in result.scalars())

    async def due_retries(self, limit: int = 100) -> list[DeadLetter]:
        stmt = (select(DeadLetterRow).where(col(DeadLetterRow.state) == "retry")
                .order_by(col(DeadLetterRow.id)).limit(limit))
        return [_letter(r) for r in (await self.session.execute(stmt)).scalars()]

    async def close(self, letter_id: int, state: str, at: datetime) -> bool:
        """Mark a letter done (handled on retry) or dismissed; False when it was not open."""
        result = await self.session.execute(
            update(DeadLetterRow)
            .where(col(DeadLetterRow.id) == letter_id, col(DeadLetterRow.state).in_(OPEN_STATES))
            .values(state=state, closed_at=at)
        )
        return bool(rowcount(result))

    async def open_summary(self) -> tuple[int, datetime | None]:
        """How many letters are open, and when the oldest of them arrived."""
        count, oldest = (await self.session.execute(
            select(func.count(), func.min(col(DeadLetterRow.received_at)))
            .where(col(DeadLetterRow.state).in_(OPEN_STATES))
        )).one()
        return int(count), oldest
