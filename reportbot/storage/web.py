"""The web desk's sign-in: one-time links and sessions, stored by hash (the secrets never are)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reportbot.storage.base import rowcount
from reportbot.storage.transport_tables import WebSessionRow, WebTokenRow


@dataclass(frozen=True)
class WebSession:
    id: int
    staff_id: int
    csrf: str
    role: str
    team: str
    name: str
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None


def _session(row: WebSessionRow) -> WebSession:
    assert row.id is not None
    return WebSession(row.id, row.staff_id, row.csrf, row.role, row.team, row.name, row.started_at,
                      row.last_seen_at, row.ended_at)


class WebRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def issue_token(self, token_hash: str, staff_id: int, now: datetime, expires_at: datetime) -> None:
        self.session.add(WebTokenRow(token_hash=token_hash, staff_id=staff_id, created_at=now, expires_at=expires_at))
        await self.session.flush()

    async def redeem_token(self, token_hash: str, now: datetime) -> int | None:
        """The person a link was for, once: the same statement marks it used (a second click finds it used)."""
        result = await self.session.execute(
            update(WebTokenRow)
            .where(col(WebTokenRow.token_hash) == token_hash, col(WebTokenRow.used_at).is_(None),
                   col(WebTokenRow.expires_at) > now)
            .values(used_at=now)
            .returning(col(WebTokenRow.staff_id))
        )
        found = result.scalar_one_or_none()
        return None if found is None else int(found)

    async def open_session(self, row: WebSessionRow) -> WebSession:
        self.session.add(row)
        await self.session.flush()
        return _session(row)

    async def session_by_hash(self, session_hash: str) -> WebSession | None:
        row = (await self.session.execute(
            select(WebSessionRow).where(col(WebSessionRow.session_hash) == session_hash)
        )).scalar_one_or_none()
        return None if row is None else _session(row)

    async def touch(self, session_id: int, now: datetime) -> None:
        await self.session.execute(update(WebSessionRow).where(col(WebSessionRow.id) == session_id)
                                   .values(last_seen_at=now))

    async def end(self, session_id: int, reason: str, now: datetime) -> None:
        await self.session.execute(
            update(WebSessionRow)
            .where(col(WebSessionRow.id) == session_id, col(WebSessionRow.ended_at).is_(None))
            .values(ended_at=now, ended_reason=reason)
        )

    async def end_all_of(self, staff_id: int, reason: str, now: datetime) -> int:
        """End every open session of a person (`reportbot web revoke`); how many there were."""
        result = await self.session.execute(
            update(WebSessionRow)
            .where(col(WebSessionRow.staff_id) == staff_id, col(WebSessionRow.ended_at).is_(None))
            .values(ended_at=now, ended_reason=reason)
        )
        return rowcount(result)
