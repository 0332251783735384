"""audit chain: every event carries the hash of the one before it (per project); audit_head

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from reportbot.rules.audit import GENESIS, event_hash_v1
from reportbot.storage.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_event = sa.table(
    "event",
    sa.column("id", sa.Integer()), sa.column("project_id", sa.Integer()), sa.column("phone", sa.String()),
    sa.column("report_id", sa.Integer()), sa.column("kind", sa.String()), sa.column("actor_id", sa.Integer()),
    sa.column("at", UTCDateTime()), sa.column("detail", sa.String()),
    sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()),
)
_head = sa.table("audit_head", sa.column("project_id", sa.Integer()), sa.column("last_hash", sa.String()))


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["project.id"]),
        sa.PrimaryKeyConstraint("project_id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    _chain_existing_events()
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)


def _chain_existing_events() -> None:
    """Events written before the chain existed are chained now, in id order, per project."""
    bind = op.get_bind()
    heads: dict[int, str] = {}
    for row in bind.execute(sa.select(_event).order_by(_event.c.id)).mappings():
        prev = heads.get(row["project_id"], GENESIS)
        digest = event_hash_v1(prev, row["project_id"], row["phone"], row["report_id"], row["kind"], row["actor_id"],
                            row["at"], row["detail"])
        bind.execute(_event.update().where(_event.c.id == row["id"]).values(prev_hash=prev, hash=digest))
        heads[row["project_id"]] = digest
    if heads:
        bind.execute(_head.insert(), [{"project_id": p, "last_hash": h} for p, h in heads.items()])


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    op.drop_table("audit_head")
