"""The console through an outage (issue 21 §3): a line that meets the database away waits and is then
carried out, in order; a line that fails with the database healthy is reported and the script goes on."""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest

from reportbot.bot import console as console_module
from reportbot.bot.console import run_console
from reportbot.bot.demo import seed_demo
from reportbot.handlers.context import Services
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.scheduler.clock import ManualClock
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from tests.conftest import local
from tests.fakes.pg_cluster import OwnPostgres
from tests.office import report_text

SCRIPT = "\n".join([
    "@101 " + report_text().replace("\n", "\\n"),
    "@103 " + report_text(customer="刘女士", phone="139***12345", team="猛虎队", who="王五").replace("\n", "\\n"),
]) + "\n"


async def test_a_line_waits_for_the_database_and_is_carried_out_when_it_is_back(own_pg: OwnPostgres) -> None:
    url = own_pg.create(f"console_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    policy = Policy()
    services = Services(db=Database(url), render=Renderer(policy.timezone), policy=policy)
    await seed_demo(services.db, local("2026-11-23 09:00"))
    out = io.StringIO()
    await asyncio.to_thread(own_pg.stop)

    async def back_later() -> None:
        await asyncio.sleep(3)
        await asyncio.to_thread(own_pg.start)

    restart = asyncio.create_task(back_later())
    try:
        await run_console(services, ManualClock(local("2026-11-23 10:00")), io.StringIO(SCRIPT), out, echo=True)
    finally:
        await restart
        await services.db.dispose()
    transcript = out.getvalue()
    assert transcript.count("数据库暂时不可用") == 1 and "不会跳过" in transcript
    assert transcript.index("数据库暂时不可用") < transcript.index("回执号")
    assert transcript.count("✅ 报备已登记") == 2  # both lines carried out, in order
    assert transcript.index("张先生") < transcript.index("刘女士")


async def test_a_line_that_fails_with_the_database_healthy_is_reported_and_the_script_goes_on(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_demo(svc.db, local("2026-11-23 09:00"))
    real = console_module.handle_message

    async def buggy(msg, services):  # type: ignore[no-untyped-def]
        if "张先生" in msg.text:
            raise KeyError("a field nobody foresaw")
        return await real(msg, services)

    monkeypatch.setattr(console_module, "handle_message", buggy)
    out = io.StringIO()
    await run_console(svc, ManualClock(local("2026-11-23 10:00")), io.StringIO(SCRIPT), out, echo=False)
    transcript = out.getvalue()
    assert "!! 这一行处理失败，没有记录任何内容：KeyError: 'a field nobody foresaw'" in transcript
    assert transcript.count("✅ 报备已登记") == 1  # the next line went through
