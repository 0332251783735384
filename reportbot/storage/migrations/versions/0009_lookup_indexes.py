"""indexes for the lookups the report path, /who and the sweep make: visits and events by customer,
due expiries, idle owners

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status IN ('pending', 'confirmed')"
OWNED = "owner_id IS NOT NULL"


def upgrade() -> None:
    # Measured at 1,000,000 stored reports and 333,000 visits (bench/storage_bench, SQLite): since 0007
    # the two visit indexes are partial, so "the customer's visit" scanned the table (27 ms a report);
    # the sweep scanned every report for due expiries and every visit for idle owners (310 ms a pass);
    # since 0006 SQLite read a customer's events through ix_event_project_at, i.e. the whole project's
    # (135 ms per /who and per expired report: 500 expiries took 66 s).
    op.create_index("ix_visit_customer", "visit", ["project_id", "phone"], unique=False)
    op.create_index("ix_event_customer_time", "event", ["project_id", "phone", "at", "id"], unique=False)
    op.drop_index("ix_event_customer", table_name="event")
    op.create_index("ix_report_active_expiry", "report", ["valid_until"], unique=False,
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_index("ix_visit_owned_activity", "visit", ["last_activity_at"], unique=False,
                    sqlite_where=sa.text(OWNED), postgresql_where=sa.text(OWNED))


def downgrade() -> None:
    op.create_index("ix_event_customer", "event", ["project_id", "phone", "id"], unique=False)
    op.drop_index("ix_event_customer_time", table_name="event")
    op.drop_index("ix_visit_owned_activity", table_name="visit")
    op.drop_index("ix_report_active_expiry", table_name="report")
    op.drop_index("ix_visit_customer", table_name="visit")
