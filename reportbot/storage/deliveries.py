"""Deliveries and the outbox: incoming keys already handled, and the answers they are owed.

A channel delivers at least once; the delivery key, recorded in the transaction that records what the
message did, makes a second delivery a no-op. The answers go into the outbox in that same transaction,
so that a crash before sending loses none (handlers/delivery.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import delete, select, update
from sqlmodel import col

from reportbot.storage.base import Repository, rowcount
from reportbot.storage.sql import values_list
from reportbot.storage.transport_tables import DeliveryRow, OutboxRow


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


class DeliveryRepository(Repository):
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
                update(OutboxRow).where(col(OutboxRow.id).in_(sorted(sending)))
                .values(attempts=col(OutboxRow.attempts) + 1, state="sending")
            )
        for failed in (False, True):
            ids = sorted(i for i, f in done.items() if f is failed)
            if ids:
                await self.session.execute(
                    update(OutboxRow).where(col(OutboxRow.id).in_(ids))
                    .values(state="failed" if failed else "sent", sent_at=at)
                )

    async def prune(self, before: datetime) -> int:
        """Forget keys and finished answers older than ``before`` (no channel redelivers that late)."""
        finished = delete(OutboxRow).where(
            col(OutboxRow.created_at) < before, col(OutboxRow.state).in_(("sent", "failed"))
        )
        await self.session.execute(finished)
        still_owed = select(col(OutboxRow.delivery_id)).where(col(OutboxRow.delivery_id).is_not(None))
        keys = delete(DeliveryRow).where(
            col(DeliveryRow.received_at) < before, col(DeliveryRow.id).not_in(still_owed)
        )
        return rowcount(await self.session.execute(keys))

    async def unsent(self, channel: str, created_before: datetime | None = None) -> list[OutboxEntry]:
        stmt = (
            select(col(OutboxRow.id), col(OutboxRow.channel), col(OutboxRow.chat_id), col(OutboxRow.payload),
                   col(OutboxRow.state))
            .where(col(OutboxRow.channel) == channel, col(OutboxRow.state).in_(("pending", "sending")))
            .order_by(col(OutboxRow.id))
        )
        if created_before is not None:
            stmt = stmt.where(col(OutboxRow.created_at) < created_before)
        rows = (await self.session.execute(stmt)).all()
        return [OutboxEntry(r.id, r.channel, r.chat_id, r.payload, r.state == "sending") for r in rows]
