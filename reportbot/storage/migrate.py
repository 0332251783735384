"""Bring a database to the newest schema with alembic (``reportbot db upgrade``, also run at start).

At start the database is nearly always at the newest schema already. Importing alembic (it brings
mako and, through mako, pygments) took a quarter of ``reportbot run``'s cold start, so the stored
revision is read first without it, and alembic is only imported when there is something to do.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration's revision (migrations/versions); a test keeps it equal to alembic's head.
HEAD = "0013"


def alembic_config(url: str) -> Config:
    """Alembic's configuration for this database: migrations/env.py takes the URL from its attributes."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url  # as given: an attribute is no ini value, '%' needs no escaping
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Run the migrations up to ``revision``. Blocking: call it outside the event loop (or in a thread)."""
    from reportbot.storage.db import _ensure_sqlite_directory

    if revision == "head" and stored_revision(url) == HEAD:
        return
    from alembic import command

    _ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)


def stored_revision(url: str) -> str | None:
    """The revision recorded in the database (alembic_version), read without alembic; None when there
    is none yet or it cannot be read this way (then alembic looks)."""
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            path = parsed.database
            if not path or path == ":memory:" or path.startswith("file:") or not Path(path).exists():
                return None
            with closing(sqlite3.connect(f"file:{Path(path).absolute()}?mode=ro", uri=True)) as conn:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            return None if row is None else str(row[0])
        if parsed.get_backend_name() == "postgresql":
            try:
                asyncio.get_running_loop()
                return None  # called on a running loop's thread: leave it to alembic
            except RuntimeError:
                pass
            dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            return asyncio.run(_postgres_revision(dsn))
    except Exception:  # noqa: BLE001 — no table yet, no database yet, …: alembic will say what is wrong
        return None
    return None


async def _postgres_revision(dsn: str) -> str | None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        value = await conn.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await conn.close()
    return None if value is None else str(value)
