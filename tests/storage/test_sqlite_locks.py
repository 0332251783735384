"""SQLite's locks are POSIX locks: closing any descriptor of the database file drops every lock this process
holds on it. The checkpointer syncs the database file through a descriptor of its own; were it to close it,
a connection of another process (`reportbot status`, `staff add`, `reportbot web`, a backup) would then
believe itself the last one when it closed, checkpoint, and delete the write-ahead log this process still
writes to: every later commit lost at the next start (found by bench/cards_bench.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from reportbot.handlers import directory
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade

COUNT = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
print(conn.execute("SELECT count(*) FROM project").fetchone()[0])
conn.close()
"""


def another_process_counts(path: Path) -> int:
    """Projects, as a connection of another process sees them; it closes, as `reportbot status` does."""
    done = subprocess.run([sys.executable, "-c", COUNT, str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout)


async def test_after_a_synced_checkpoint_another_process_closing_its_connection_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    now = datetime.now().astimezone()
    try:
        await directory.add_project(db, "森林半岛", "-1001", None, now)
        checkpointer = db._checkpointer  # the pass every 256 commits, run now
        assert checkpointer is not None
        await asyncio.to_thread(checkpointer.checkpoint, True)
        await asyncio.to_thread(checkpointer.checkpoint, True)  # a second pass reuses the descriptor
        assert another_process_counts(path) == 1
        assert Path(f"{path}-wal").exists()  # that process did not take itself for the last one
        await directory.add_project(db, "江湾壹号", "-1002", None, now)
        assert another_process_counts(path) == 2  # this process's commit is in the log everyone reads
    finally:
        await db.dispose()
    assert another_process_counts(path) == 2  # and in the database once this process let go
