"""`reportbot backup PATH`: a consistent copy of the ledger, taken while the bot keeps writing.

SQLite: the online backup API copies pages under the database's own locks, so a copy taken during
writes is a snapshot of one moment. PostgreSQL: pg_dump's custom format, also one snapshot
(restore with `pg_restore -d NEWDB PATH`).
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The copy could not be made; the message says why."""


def backup(url: str, target: Path) -> Path:
    """Write a consistent copy of the database at ``url`` to ``target``; returns the path written."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite(Path(parsed.database or ""), target)
    return _postgres(url, target)


def _sqlite(source: Path, target: Path) -> Path:
    if not source.exists():
        raise BackupError(f"no database file at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=1024)
    return target


def _postgres(url: str, target: Path) -> Path:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--file", str(target), dsn],
        check=False, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return target
