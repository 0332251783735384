"""`reportbot backup` takes a consistent copy while the bot writes; the restored copy verifies."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from reportbot.handlers.audit import verify_chain
from reportbot.handlers.context import Services
from reportbot.rules.model import EventKind
from reportbot.storage.backup import backup
from reportbot.storage.db import Database
from reportbot.storage.tables import ReportRow
from tests.conftest import _pg_admin
from tests.office import LI, Chat, open_office, report_text


async def keep_reporting(svc: Services, stop: asyncio.Event) -> int:
    chat, n = Chat(svc), 0
    while not stop.is_set() and n < 45:
        await chat.say(LI, report_text(phone=f"138***{n:05d}"))
        n += 1
    return n


async def restore(url: str, copy: Path, tmp_path: Path) -> str:
    """Where the copy can be opened: the file itself, or a new PostgreSQL database restored from it."""
    if make_url(url).get_backend_name() == "sqlite":
        return f"sqlite+aiosqlite:///{copy}"
    name = f"reportbot_restore_{uuid.uuid4().hex[:10]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    target = make_url(url).set(database=name)
    dsn = target.set(drivername="postgresql").render_as_string(hide_password=False)
    result = await asyncio.to_thread(
        subprocess.run, ["pg_restore", "--no-owner", "-d", dsn, str(copy)],
        check=False, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    return target.render_as_string(hide_password=False)


async def test_a_backup_taken_while_reports_arrive_restores_to_a_verifying_ledger(
    svc: Services, db_url: str, tmp_path: Path
) -> None:
    await open_office(svc)
    stop = asyncio.Event()
    writer = asyncio.create_task(keep_reporting(svc, stop))
    await asyncio.sleep(0.3)
    copy = await asyncio.to_thread(backup, db_url, tmp_path / "ledger.backup")
    stop.set()
    written = await writer
    restored_url = await restore(db_url, copy, tmp_path)
    restored = Database(restored_url)
    try:
        [(_, events, problem)] = await verify_chain(restored)
        assert problem is None
        async with restored.uow(write=False) as uow:
            reports = int((await uow.session.execute(select(func.count()).select_from(ReportRow))).scalar_one())
            reported = await uow.events.count(EventKind.REPORTED)
        assert 0 < reports <= written and reports == reported == events  # one snapshot: rows and log agree
    finally:
        await restored.dispose()
        if not restored_url.startswith("sqlite"):
            await _pg_admin(f'DROP DATABASE IF EXISTS "{make_url(restored_url).database}" WITH (FORCE)')
