"""Alembic environment: async engine, SQLModel metadata, and the database URL the caller hands in.

storage/migrate.py (``reportbot db upgrade``, the start-up upgrade, the tests) puts the URL in
``config.attributes["url"]``; a Config built elsewhere may set the main option ``sqlalchemy.url``.
alembic on the command line (alembic.ini at the repository's root) takes ``-x url=…``, else
``DATABASE_URL`` from the environment. The bot's settings are not read here: storage imports nothing of bot/.
"""

from __future__ import annotations

import asyncio
import os
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.util import CommandError
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

# Imported for what they do: register every table on SQLModel.metadata.
import reportbot.storage.tables
import reportbot.storage.transport_tables  # noqa: F401
from reportbot.storage.types import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = (
        config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("DATABASE_URL")
    )
    if not url:
        raise CommandError(
            "no database URL: give alembic -x url=sqlite+aiosqlite:///path (or postgresql+asyncpg://…), set "
            "DATABASE_URL, or run `reportbot db upgrade`, which reads .env"
        )
    return str(url)


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate our column types as the migrations import them (no sqlmodel in migrations)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "UTCDateTime()"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
