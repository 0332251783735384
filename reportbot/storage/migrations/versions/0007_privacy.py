"""privacy: keyed phone hashes for exact visit matching; the audit chain commits to a salted personal digest

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from reportbot.rules.audit import (
    GENESIS,
    ChainBroken,
    event_hash,
    event_hash_v1,
    personal_digest,
    split_detail,
)
from reportbot.storage.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_event = sa.table(
    "event",
    sa.column("id", sa.Integer()), sa.column("project_id", sa.Integer()), sa.column("phone", sa.String()),
    sa.column("report_id", sa.Integer()), sa.column("kind", sa.String()), sa.column("actor_id", sa.Integer()),
    sa.column("at", UTCDateTime()), sa.column("detail", sa.String()),
    sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()),
    sa.column("salt", sa.String()), sa.column("personal_digest", sa.String()),
)
_head = sa.table("audit_head", sa.column("project_id", sa.Integer()), sa.column("last_hash", sa.String()))


_OLD_COLUMNS = ("id", "project_id", "phone", "report_id", "kind", "actor_id", "at", "detail", "prev_hash", "hash")


def upgrade() -> None:
    _check_first_chain()  # before any change: SQLite cannot roll back the table copies below
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_hash", sa.String(length=80), nullable=True))
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_hash", sa.String(length=80), nullable=True))
        batch_op.drop_constraint("uq_visit_customer", type_="unique")
        batch_op.create_index("uq_visit_customer_masked", ["project_id", "phone"], unique=True,
                              sqlite_where=sa.text("phone_hash IS NULL"), postgresql_where=sa.text("phone_hash IS NULL"))
        batch_op.create_index("uq_visit_customer_exact", ["project_id", "phone_hash"], unique=True,
                              sqlite_where=sa.text("phone_hash IS NOT NULL"),
                              postgresql_where=sa.text("phone_hash IS NOT NULL"))
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("salt", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("personal_digest", sa.String(length=64), nullable=True))
    _rechain()
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column("personal_digest", existing_type=sa.String(length=64), nullable=False)


def _old_events() -> sa.CursorResult[Any]:
    return op.get_bind().execute(sa.select(*(_event.c[name] for name in _OLD_COLUMNS)).order_by(_event.c.id))


def _check_first_chain() -> None:
    """The chain of migration 0004 must verify: re-chaining a broken one would hide the tampering."""
    old: dict[int, str] = {}
    for row in _old_events().mappings():
        project = row["project_id"]
        recomputed = event_hash_v1(row["prev_hash"], project, row["phone"], row["report_id"], row["kind"],
                                   row["actor_id"], row["at"], row["detail"])
        if row["prev_hash"] != old.get(project, GENESIS) or row["hash"] != recomputed:
            raise ChainBroken(f"event #{row['id']} breaks the audit chain of project #{project}; "
                              "the old chain must verify before it is re-chained (nothing was changed)")
        old[project] = row["hash"]
    for head in op.get_bind().execute(sa.select(_head)):
        if head.project_id in old and head.last_hash != old[head.project_id]:
            raise ChainBroken(f"the newest events of project #{head.project_id} were removed (nothing was changed)")


def _rechain() -> None:
    """Chain every event anew, in id order per project, through a salted digest of its personal fields."""
    bind = op.get_bind()
    new: dict[int, str] = {}
    for row in _old_events().mappings():
        project = row["project_id"]
        salt = secrets.token_hex(16)
        personal, public = split_detail(row["kind"], row["detail"])
        digest = personal_digest(salt, row["phone"], personal)
        prev = new.get(project, GENESIS)
        link = event_hash(prev, project, row["report_id"], row["kind"], row["actor_id"], row["at"], public, digest)
        bind.execute(_event.update().where(_event.c.id == row["id"])
                     .values(salt=salt, personal_digest=digest, prev_hash=prev, hash=link))
        new[project] = link
    heads = {r.project_id for r in bind.execute(sa.select(_head))}
    for project, link in new.items():
        if project in heads:
            bind.execute(_head.update().where(_head.c.project_id == project).values(last_hash=link))
        else:
            bind.execute(_head.insert().values(project_id=project, last_hash=link))


def downgrade() -> None:
    bind = op.get_bind()
    heads: dict[int, str] = {}
    for row in bind.execute(sa.select(_event).order_by(_event.c.id)).mappings():
        prev = heads.get(row["project_id"], GENESIS)
        link = event_hash_v1(prev, row["project_id"], row["phone"], row["report_id"], row["kind"], row["actor_id"],
                             row["at"], row["detail"])
        bind.execute(_event.update().where(_event.c.id == row["id"]).values(prev_hash=prev, hash=link))
        heads[row["project_id"]] = link
    for project, link in heads.items():
        bind.execute(_head.update().where(_head.c.project_id == project).values(last_hash=link))
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("personal_digest")
        batch_op.drop_column("salt")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("uq_visit_customer_exact")
        batch_op.drop_index("uq_visit_customer_masked")
        batch_op.create_unique_constraint("uq_visit_customer", ["project_id", "phone"])
        batch_op.drop_column("phone_hash")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("phone_hash")
