"""A bot on the database's machine may connect over PostgreSQL's Unix socket instead of loopback TCP
(docs/performance.md measures both). The start-up path and a race of reports work the same way over it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from reportbot.bot.settings import Settings
from reportbot.handlers.context import Services
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from reportbot.storage.migrate import HEAD, stored_revision
from tests.conftest import _truncate, local
from tests.storage.pg_socket import unix_socket_url
from tests.storage.race import register, report_all

NO_PEER_ADDRESS = "SELECT inet_server_addr() IS NULL"  # NULL: the connection is not over TCP/IP


async def test_over_the_unix_socket_the_bot_starts_and_first_come_is_still_first_served(pg_url: str) -> None:
    url = await unix_socket_url(pg_url)
    if url is None:  # scripts/test.sh starts the server on this machine, so CI always has its socket
        pytest.skip("the PostgreSQL server under test has no Unix socket on this machine")
    assert "?host=/" in url
    assert Settings(database_url=url).database_url == url
    assert await asyncio.to_thread(stored_revision, url) == HEAD  # read at start, without alembic

    await _truncate(pg_url)
    db = Database(url)
    try:
        async with db.uow(write=False, orm=False) as uow:
            assert await (await uow.sql()).value(NO_PEER_ADDRESS) is True
        async with db.uow(write=False) as uow:
            assert (await uow.session.execute(text(NO_PEER_ADDRESS))).scalar_one() is True
        svc = Services(db=db, render=Renderer(Policy().timezone), policy=Policy())
        await register(db, 20, local("2026-11-20 09:00"))
        receipts = await report_all(svc, range(20), local("2026-11-23 10:00"), delivered=True)
    finally:
        await db.dispose()
    assert sum(receipts) == 1
