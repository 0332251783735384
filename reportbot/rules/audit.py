"""The audit chain (SPEC §9): each event carries the hash of the one before it, per project.

The chain commits to the customer's personal fields (phone, free-text detail) only through a
salted digest stored beside them. `/forget` erases the fields and the salt and keeps the digest, so
the chain still verifies; while the salt is there, the verifier recomputes the digest and catches an
edited phone or note too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from reportbot.rules.privacy import is_tombstone

GENESIS = "0" * 64
FORGOTTEN_KIND = "forgotten"
# Kinds whose detail is free text a person typed (a note, a reason, a proof): personal, erasable.
# The detail of the other kinds is written by the bot (a rule, a reject reason) and stays in the skeleton.
PERSONAL_DETAIL_KINDS = frozenset({"followed_up", "claimed", "revoked", "released", "deal"})


def _canonical(values: list[object]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def split_detail(kind: str, detail: str | None) -> tuple[str | None, str | None]:
    """(personal, public): which part of an event's detail is the customer's and which the skeleton's."""
    return (detail, None) if kind in PERSONAL_DETAIL_KINDS else (None, detail)


def personal_digest(salt: str, phone: str, personal_detail: str | None) -> str:
    """SHA-256 over a per-event random salt and the personal fields; without the salt it reveals nothing."""
    return hashlib.sha256(f"{salt}\n{_canonical([phone, personal_detail])}".encode()).hexdigest()


def event_content(
    project_id: int, report_id: int | None, kind: str, actor_id: int, at: datetime, public_detail: str | None,
    digest: str,
) -> str:
    """What an event's hash commits to besides the hash before it: its anonymous skeleton and its digest."""
    return with_report(event_content_around_report(project_id, kind, actor_id, at, public_detail, digest), report_id)


def event_content_around_report(
    project_id: int, kind: str, actor_id: int, at: datetime, public_detail: str | None, digest: str
) -> tuple[str, str]:
    """The content before and after the report id, for a statement that learns the id as it inserts the
    report: ``before + str(report_id) + after`` is ``event_content`` (storage.report_filing files a report
    and chains its event so on PostgreSQL)."""
    return _canonical([project_id])[:-1] + ",", "," + _canonical([kind, actor_id, _utc(at), public_detail, digest])[1:]


def with_report(content_around_report: tuple[str, str], report_id: int | None) -> str:
    """The content, the report id put between its halves."""
    before, after = content_around_report
    return f"{before}{json.dumps(report_id)}{after}"


def chain_link(prev_hash: str, content: str) -> str:
    """SHA-256 over the previous hash, a newline and the content, as UTF-8 (PostgreSQL computes the
    same in storage.events when it appends an event in one statement)."""
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def event_hash(
    prev_hash: str, project_id: int, report_id: int | None, kind: str, actor_id: int, at: datetime,
    public_detail: str | None, digest: str,
) -> str:
    """SHA-256 over the previous hash, the event's anonymous skeleton and its personal digest."""
    return chain_link(prev_hash, event_content(project_id, report_id, kind, actor_id, at, public_detail, digest))


def event_hash_v1(
    prev_hash: str, project_id: int, phone: str, report_id: int | None, kind: str, actor_id: int,
    at: datetime, detail: str | None,
) -> str:
    """The first chain (migration 0004): personal fields hashed in plain. Only migrations use it."""
    content = _canonical([project_id, phone, report_id, kind, actor_id, _utc(at), detail])
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


class ChainBroken(RuntimeError):
    """A migration found the chain already broken: re-chaining it would hide the tampering, so it stops."""


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
    salt: str | None  # None: the personal fields were erased by /forget
    digest: str

    def recomputed(self) -> str:
        _personal, public = split_detail(self.kind, self.detail)  # the digest stands for the personal part
        return event_hash(self.prev_hash, self.project_id, self.report_id, self.kind, self.actor_id, self.at,
                          public, self.digest)


def first_break(links: list[Link], head_hash: str | None) -> str | None:
    """Where a project's chain (events in id order) is broken, in words; None when it holds."""
    expected = GENESIS
    forgotten = {link.phone for link in links if link.kind == FORGOTTEN_KIND}
    for link in links:
        if link.prev_hash != expected:
            return f"event #{link.id}: does not follow the event before it (a row was removed, added or moved)"
        if link.recomputed() != link.hash:
            return f"event #{link.id}: its content was changed after it was written"
        problem = _personal_problem(link, forgotten)
        if problem:
            return f"event #{link.id}: {problem}"
        expected = link.hash
    if head_hash is not None and head_hash != expected:
        return "the newest events were removed (the chain head points past the last event)"
    return None


def _personal_problem(link: Link, forgotten: set[str]) -> str | None:
    personal, _ = split_detail(link.kind, link.detail)
    if link.salt is not None:
        if personal_digest(link.salt, link.phone, personal) != link.digest:
            return "its phone or personal detail was changed after it was written"
        return None
    if not is_tombstone(link.phone) or link.phone not in forgotten or personal is not None:
        return "its personal fields were erased without a recorded /forget"
    return None
