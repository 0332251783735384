"""a project's DingTalk and Feishu group chats

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.add_column(sa.Column("dingtalk_chat_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("feishu_chat_id", sa.String(length=128), nullable=True))
        batch.create_unique_constraint("uq_project_dingtalk_chat_id", ["dingtalk_chat_id"])
        batch.create_unique_constraint("uq_project_feishu_chat_id", ["feishu_chat_id"])


def downgrade() -> None:
    with op.batch_alter_table("project") as batch:
        batch.drop_constraint("uq_project_feishu_chat_id", type_="unique")
        batch.drop_constraint("uq_project_dingtalk_chat_id", type_="unique")
        batch.drop_column("feishu_chat_id")
        batch.drop_column("dingtalk_chat_id")
