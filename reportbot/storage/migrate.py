"""Bring a database to the newest schema with alembic (``reportbot db upgrade``, also run at start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Run the migrations up to ``revision``. Blocking: call it outside the event loop (or in a thread)."""
    from reportbot.storage.db import _ensure_sqlite_directory

    _ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), revision)
