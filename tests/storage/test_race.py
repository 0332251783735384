"""First come, first served is the database's decision (SPEC §4), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from reportbot.handlers.context import Services
from reportbot.rules.model import EventKind
from reportbot.storage.tables import ReportRow
from reportbot.storage.transport_tables import DeliveryRow, OutboxRow
from tests.conftest import local
from tests.storage.race import register, report_all

ROOT = Path(__file__).resolve().parents[2]


async def stored_reports(svc: Services) -> int:
    async with svc.db.uow(write=False) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(ReportRow))).scalar_one())


async def test_200_simultaneous_reports_of_one_customer_give_exactly_one_receipt(svc: Services) -> None:
    await register(svc.db, 200, local("2026-11-20 09:00"))
    receipts = await report_all(svc, range(200), local("2026-11-23 10:00"))
    assert sum(receipts) == 1
    assert await stored_reports(svc) == 1
    async with svc.db.uow(write=False) as uow:
        assert await uow.events.count(EventKind.DUPLICATE_REFUSED) == 199


async def test_simultaneous_reports_delivered_as_telegram_hands_them_over_give_exactly_one_receipt(
    svc: Services,
) -> None:
    """Each in its own enclosing transaction (handlers.delivery). On PostgreSQL the report path takes no
    savepoint there, so a loser's failed insert loses its whole transaction, and the delivery is handled
    again from its key on: every key is still recorded once, with exactly the answers it is owed."""
    await register(svc.db, 50, local("2026-11-20 09:00"))
    receipts = await report_all(svc, range(50), local("2026-11-23 10:00"), delivered=True)
    assert sum(receipts) == 1
    assert await stored_reports(svc) == 1
    async with svc.db.uow(write=False) as uow:
        assert await uow.events.count(EventKind.DUPLICATE_REFUSED) == 49
        deliveries = (await uow.session.execute(select(func.count()).select_from(DeliveryRow))).scalar_one()
        answers = (await uow.session.execute(select(OutboxRow.chat_id))).scalars().all()
    assert deliveries == 50
    # One answer in each canvasser's chat (49 "duplicate", 1 receipt), and the winner's card in the group.
    assert sorted(answers) == sorted([str(5000 + n) for n in range(50)] + ["-1009000"])


async def test_two_bot_processes_sharing_the_database_give_exactly_one_receipt(svc: Services, db_url: str) -> None:
    await register(svc.db, 200, local("2026-11-20 09:00"))
    start_at = time.time() + 4.0  # both processes are up and connected by then
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.storage.race", db_url, str(first), "100", str(start_at),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT, env=env,
        )
        for first in (0, 100)
    ]
    results = [await w.communicate() for w in workers]
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err.decode()
    assert sum(int(out) for out, _ in results) == 1
    assert await stored_reports(svc) == 1
    async with svc.db.uow(write=False) as uow:
        assert await uow.events.count(EventKind.DUPLICATE_REFUSED) == 199
