"""The audit chain (SPEC §9): each event carries the hash of the one before it, per project."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64


def event_hash(
    prev_hash: str, project_id: int, phone: str, report_id: int | None, kind: str, actor_id: int,
    at: datetime, detail: str | None,
) -> str:
    """SHA-256 over the previous hash and the event's content, in one canonical spelling."""
    content = json.dumps(
        [project_id, phone, report_id, kind, actor_id, at.astimezone(UTC).isoformat(timespec="microseconds"), detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """One stored event as the verifier reads it."""

    id: int
    prev_hash: str
    hash: str
    project_id: int
    phone: str
    report_id: int | None
    kind: str
    actor_id: int
    at: datetime
    detail: str | None


def first_break(links: list[Link], head_hash: str | None) -> str | None:
    """Where a project's chain (events in id order) is broken, in words; None when it holds."""
    expected = GENESIS
    for link in links:
        if link.prev_hash != expected:
            return f"event #{link.id}: does not follow the event before it (a row was removed, added or moved)"
        recomputed = event_hash(link.prev_hash, link.project_id, link.phone, link.report_id, link.kind,
                                link.actor_id, link.at, link.detail)
        if recomputed != link.hash:
            return f"event #{link.id}: its content was changed after it was written"
        expected = link.hash
    if head_hash is not None and head_hash != expected:
        return "the newest events were removed (the chain head points past the last event)"
    return None
