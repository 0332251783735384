"""The alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import reportbot.storage.tables  # noqa: F401
from reportbot.storage.db import Database


async def test_the_migrated_schema_matches_the_models(db: Database) -> None:
    async with db.write_engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata))
    assert diff == []
