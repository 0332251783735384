"""Is the bot healthy? One answer for `reportbot status`, `GET /healthz` and a monitor (SPEC §13).

Healthy means: the database answers a write probe; its schema is at the newest migration; no stored
answer has waited more than ``STALE_ANSWER`` to go out (a bot that is down, or cut off from its
channel, leaves its answers unsent); no dead letter is open (a message nobody has looked at). What was
last handled on each channel is shown, not judged: a quiet night is not a fault. No personal data: counts,
ages and times only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlmodel import col

from reportbot.storage.db import Database
from reportbot.storage.health import probe
from reportbot.storage.migrate import HEAD
from reportbot.storage.transport_tables import UNSENT_SQL, DeliveryRow, OutboxRow

STALE_ANSWER = timedelta(minutes=10)  # an opening day's group cards wait 4–5 min behind Telegram's limit


@dataclass(frozen=True)
class Health:
    database: str  # postgresql | sqlite
    reachable: bool
    round_trip_ms: float | None = None
    problem: str | None = None  # why the database is not reachable
    schema: str | None = None
    unsent: int = 0
    oldest_unsent: timedelta | None = None
    last_update: dict[str, timedelta] = field(default_factory=dict)  # channel → how long ago
    dead_letters: int = 0
    oldest_dead_letter: timedelta | None = None

    @property
    def problems(self) -> list[str]:
        """What is wrong, one line each; none when healthy."""
        if not self.reachable:
            return [f"database unreachable: {self.problem}"]
        found = []
        if self.schema != HEAD:
            found.append(f"schema at {self.schema or 'none'}, newest is {HEAD} (reportbot db upgrade)")
        if self.oldest_unsent is not None and self.oldest_unsent > STALE_ANSWER:
            found.append(f"{self.unsent} answers unsent, the oldest for {_words(self.oldest_unsent)} "
                         "(is the bot running and its channel reachable?)")
        if self.dead_letters:
            found.append(f"{self.dead_letters} dead letters open (reportbot deadletters)")
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "problems": self.problems,
            "database": {"kind": self.database, "reachable": self.reachable, "round_trip_ms": self.round_trip_ms},
            "schema": {"revision": self.schema, "newest": HEAD, "at_newest": self.schema == HEAD},
            "outbox": {"unsent": self.unsent, "oldest_unsent_seconds": _seconds(self.oldest_unsent)},
            "last_update_seconds_ago": {channel: _seconds(age) for channel, age in sorted(self.last_update.items())},
            "dead_letters": {"open": self.dead_letters, "oldest_seconds": _seconds(self.oldest_dead_letter)},
        }


def _seconds(age: timedelta | None) -> float | None:
    return None if age is None else round(age.total_seconds(), 1)


def _words(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


async def check(db: Database, now: datetime) -> Health:
    """Probe the database, then read what the answer needs (a few aggregate queries)."""
    found = await probe(db)
    kind = "sqlite" if db.is_sqlite else "postgresql"
    if not found.ok:
        return Health(kind, False, problem=found.problem)
    async with db.uow(write=False) as uow:
        session = uow.session
        schema = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        unsent, oldest = (await session.execute(
            select(func.count(), func.min(OutboxRow.created_at)).where(text(UNSENT_SQL))
        )).one()
        last = (await session.execute(
            select(col(DeliveryRow.channel), func.max(DeliveryRow.received_at)).group_by(DeliveryRow.channel)
        )).all()
        letters, oldest_letter = await uow.dead_letters.open_summary()
    return Health(
        kind, True, found.round_trip_ms, schema=None if schema is None else str(schema),
        unsent=int(unsent), oldest_unsent=_age(now, oldest),
        last_update={channel: now - _aware(at) for channel, at in last if at is not None},
        dead_letters=letters, oldest_dead_letter=_age(now, oldest_letter),
    )


def _age(now: datetime, at: datetime | None) -> timedelta | None:
    return None if at is None else max(timedelta(0), now - _aware(at))


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
