"""Shared fixtures: a fresh database per test, on SQLite and on PostgreSQL.

PostgreSQL is required, not optional: scripts/test.sh starts it. A test run creates its own
database (reportbot_test_<random>) and drops it at the end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import text

from reportbot.handlers.context import Services
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.rules.privacy import PhoneKey
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from tests.fakes.pg_cluster import OwnPostgres

PG_ADMIN_DSN = os.environ.get("REPORTBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TEST_PHONE_KEY = PhoneKey(b"a test key, never a production secret")
TABLES = "web_session, web_token, dead_letter, outbox, delivery, deal, team_change, audit_head, reminder, follow_up, visit, event, report, receipt_counter, public_customer, daily_counter, staff_identity, staff, project"


def local(text_: str) -> datetime:
    """'2026-11-23 10:00' in the office's zone."""
    return datetime.fromisoformat(text_).replace(tzinfo=SHANGHAI)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test run, dropped afterwards."""
    name = f"reportbot_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN} ({exc}); scripts/test.sh starts it")
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def own_pg() -> Iterator[OwnPostgres]:
    """A PostgreSQL server of the tests' own (not the shared one), which a test may stop and start."""
    with OwnPostgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """The URL of an empty, migrated database of either kind."""
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    asyncio.run(_truncate(url))
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


async def _truncate(url: str) -> None:
    db = Database(url)
    async with db.write_engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    await db.dispose()


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
async def svc(db: Database, policy: Policy) -> Services:
    return Services(db=db, render=Renderer(policy.timezone), policy=policy, phone_key=TEST_PHONE_KEY)
