"""The event log is hash-chained: an edited, removed or moved row is found by `audit verify` (SPEC §9)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from reportbot.handlers.audit import verify_chain
from reportbot.handlers.context import Services
from reportbot.rules.audit import ChainBroken
from reportbot.storage.migrate import alembic_config, upgrade
from tests.office import GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text


async def a_day(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    card = only(await chat.say(LI, report_text()), GROUP)
    await chat.say(WANG, report_text(team="猛虎队", who="王五"))
    await chat.press(ZHAO, card, "确认")
    await chat.say(WANG, report_text(customer="钱女士", phone="139***12345", team="猛虎队", who="王五"))
    await chat.at("2026-11-24 15:00").say(ZHAO, "/visit 138***88888")


async def problems(svc: Services) -> list[str | None]:
    return [problem for _, _, problem in await verify_chain(svc.db)]


async def tamper(svc: Services, sql: str) -> None:
    async with svc.db.write_engine.begin() as conn:
        await conn.execute(text(sql))


async def test_an_untouched_log_verifies(svc: Services) -> None:
    await a_day(svc)
    results = await verify_chain(svc.db)
    assert [(count, problem) for _, count, problem in results] == [(5, None)]


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("UPDATE event SET detail = '改过' WHERE id = 2", "event #2: its content was changed"),
        ("UPDATE event SET actor_id = 3 WHERE id = 1", "event #1: its content was changed"),
        ("UPDATE event SET phone = '139***00000' WHERE id = 1", "event #1: its phone or personal detail was changed"),
        ("UPDATE event SET personal_digest = '" + "0" * 64 + "' WHERE id = 3", "event #3: its content was changed"),
        ("UPDATE event SET salt = NULL, phone = 'X0000000001' WHERE id = 2",
         "event #2: its personal fields were erased without a recorded /forget"),
        ("DELETE FROM event WHERE id = 3", "event #4: does not follow"),
        ("DELETE FROM event WHERE id = 5", "the newest events were removed"),
        (
            (
                "UPDATE event SET id = CASE id WHEN 2 THEN 100 WHEN 3 THEN 2 END WHERE id IN (2, 3);"
                " UPDATE event SET id = 3 WHERE id = 100"
            ),
            "event #2: does not follow",
        ),
    ],
    ids=["edit detail", "edit actor", "edit phone", "edit personal digest", "erase without forget", "delete middle",
         "delete newest", "swap order"],
)
async def test_tampering_with_rows_is_caught_at_the_first_broken_link(svc: Services, sql: str, found: str) -> None:
    await a_day(svc)
    for statement in sql.split(";"):
        await tamper(svc, statement)
    [problem] = await problems(svc)
    assert problem is not None and problem.startswith(found)


def test_events_written_before_the_chain_are_chained_by_the_migration(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    import sqlite3

    conn = sqlite3.connect(tmp_path / "old.db")
    conn.executescript(
        "INSERT INTO project (id, name, created_at) VALUES (1, '森林半岛', '2026-11-20 01:00:00.000000');"
        "INSERT INTO staff (id, name, team, role, created_at) VALUES (1, '李四', '飞虎队', 'canvasser', '2026-11-20 01:00:00.000000');"
        "INSERT INTO event (project_id, phone, kind, actor_id, at) VALUES (1, '138***88888', 'reported', 1, '2026-11-23 02:00:00.000000');"
        "INSERT INTO event (project_id, phone, kind, actor_id, at) VALUES (1, '138***88888', 'confirmed', 1, '2026-11-23 02:30:00.000000');"
    )
    conn.commit()
    conn.close()
    upgrade(url)
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run([sys.executable, "-m", "reportbot.bot.cli", "audit", "verify"], capture_output=True,
                            check=False, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "森林半岛: 2 events, chain intact" in result.stdout
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("UPDATE event SET phone = '139***00000' WHERE id = 1")
    conn.commit()
    conn.close()
    broken = subprocess.run([sys.executable, "-m", "reportbot.bot.cli", "audit", "verify"], capture_output=True,
                            check=False, text=True, env=env, cwd=tmp_path, timeout=60)
    assert broken.returncode == 1 and "BROKEN  森林半岛: event #1" in broken.stdout


def test_the_privacy_migration_refuses_to_rechain_a_chain_that_was_already_broken(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    import sqlite3

    conn = sqlite3.connect(tmp_path / "old.db")
    conn.executescript(
        "INSERT INTO project (id, name, created_at) VALUES (1, '森林半岛', '2026-11-20 01:00:00.000000');"
        "INSERT INTO staff (id, name, team, role, created_at) VALUES (1, '李四', '飞虎队', 'canvasser', '2026-11-20 01:00:00.000000');"
        "INSERT INTO event (project_id, phone, kind, actor_id, at) VALUES (1, '138***88888', 'reported', 1, '2026-11-23 02:00:00.000000');"
    )
    conn.commit()
    conn.close()
    upgrade(url, "0004")
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute("UPDATE event SET actor_id = 2 WHERE id = 1")
    conn.commit()
    conn.close()
    with pytest.raises(ChainBroken, match="event #1"):
        upgrade(url)
    conn = sqlite3.connect(tmp_path / "old.db")
    assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0006",)]  # the one before it
    assert "phone_hash" not in [column[1] for column in conn.execute("PRAGMA table_info(report)")]
    conn.close()


async def test_a_chain_survives_a_downgrade_to_the_first_chain_and_back(svc: Services) -> None:
    await a_day(svc)
    await svc.db.dispose()
    await asyncio.to_thread(command.downgrade, alembic_config(svc.db.url), "0004")
    await asyncio.to_thread(upgrade, svc.db.url)
    assert await problems(svc) == [None]
