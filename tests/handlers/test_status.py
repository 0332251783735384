"""`reportbot status` and GET /healthz (handlers/status.py): healthy or not, and why, with no personal data."""

from __future__ import annotations

import json
from datetime import timedelta

from reportbot.handlers import status
from reportbot.storage.db import Database
from reportbot.storage.transport_tables import DeadLetterRow, OutboxRow
from tests.conftest import local

NOW = local("2026-11-23 10:00")


async def test_a_fresh_ledger_is_healthy(db: Database) -> None:
    found = await status.check(db, NOW)
    assert found.healthy and found.reachable and found.schema == status.HEAD
    assert found.as_json()["status"] == "ok"


async def test_an_answer_unsent_for_over_ten_minutes_makes_it_unhealthy_without_showing_it(db: Database) -> None:
    async with db.uow() as uow:
        uow.session.add(OutboxRow(channel="telegram", chat_id="101", state="pending", created_at=NOW - timedelta(minutes=11),
                                  payload='{"t":"send","chat":"101","text":"回执 139***12345","buttons":[],"channel":null}'))
        uow.session.add(DeadLetterRow(channel="telegram", key="msg:1:1", kind="message", sender_id="101", chat_id="101",
                                      text="报备 139***12345", error="KeyError: x", received_at=NOW, last_failed_at=NOW))
        await uow.commit()
    found = await status.check(db, NOW)
    assert not found.healthy
    assert found.unsent == 1 and found.oldest_unsent == timedelta(minutes=11)
    assert any("answers unsent" in p for p in found.problems) and any("dead letters open" in p for p in found.problems)
    shown = json.dumps(found.as_json(), ensure_ascii=False)
    assert "139" not in shown and "101" not in shown  # counts and ages only


async def test_the_last_update_of_each_channel_is_shown(db: Database) -> None:
    async with db.uow() as uow:
        await uow.deliveries.claim("telegram", "msg:1:1", NOW - timedelta(minutes=3))
        await uow.deliveries.claim("wecom", "wecom:m1", NOW - timedelta(seconds=20))
        await uow.commit()
    found = await status.check(db, NOW)
    assert found.last_update == {"telegram": timedelta(minutes=3), "wecom": timedelta(seconds=20)}
    assert found.healthy  # a quiet channel is not a fault


async def test_an_unreachable_database_is_said_so() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/nothing")
    try:
        found = await status.check(db, NOW)
    finally:
        await db.dispose()
    assert not found.reachable and not found.healthy
    assert found.problems[0].startswith("database unreachable: ConnectionRefusedError")


