"""Issue 4.6: `run --webhook` — the secret token is checked before anything is read, and a 200 means recorded.

The secret check runs on recorded update payloads posted over HTTP, as Telegram would post them; the
happy path runs through telegram-test-api's setWebhook (PATCH 6 in launch.js makes it send the
secret header, as Telegram does).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from reportbot.bot.settings import Settings
from reportbot.bot.telegram import TelegramTransport
from reportbot.bot.webhook import SECRET_HEADER
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from reportbot.storage.tables import ReportRow
from reportbot.storage.transport_tables import DeliveryRow
from tests.e2e.conftest import morning_clock
from tests.e2e.emulator import Emulator, TgUser, new_token, wait_for_bot_messages

SECRET = "s3cret-Token_for-the-tests-0123456789"
GROUP = -1005555555555
REPORT = "报备\n客户：张先生\n电话：138***{suffix}\n队名：飞虎队\n拓客：李四\n到访：明天下午3点"


def recorded_update(update_id: int, message_id: int, text: str) -> dict:
    """An update as Telegram posts it to a webhook (the Bot API's Update object)."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": {"id": 101, "is_bot": False, "first_name": "李四", "language_code": "zh-hans"},
            "chat": {"id": 101, "first_name": "李四", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }


@dataclass
class Hook:
    url: str
    token: str
    db: Database

    async def post(self, body: bytes | dict, secret: str | None = SECRET) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with aiohttp.ClientSession() as session, session.post(self.url, data=data, headers=headers) as answer:
            return answer.status

    async def count(self, table: type) -> int:
        async with self.db.uow(write=False) as uow:
            return int((await uow.session.execute(select(func.count()).select_from(table))).scalar_one())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def hook(emulator: Emulator, sqlite_url: str) -> AsyncIterator[Hook]:
    policy = Policy()
    services = Services(db=Database(sqlite_url), render=Renderer(policy.timezone), policy=policy)
    clock = morning_clock(policy)
    now = clock.now()
    await directory.add_project(services.db, "森林半岛", str(GROUP), None, now)
    await directory.add_staff(services.db, NewStaff("李四", "飞虎队", "canvasser", "101", project="森林半岛"), now)
    token, port = new_token(), free_port()
    settings = Settings(
        telegram_bot_token=token, telegram_base_url=emulator.base_url, webhook_url=f"http://127.0.0.1:{port}/tg/hook",
        webhook_secret=SECRET, webhook_listen=f"127.0.0.1:{port}",
    )
    transport = TelegramTransport(services, clock, Path(sqlite_url.split("///", 1)[1] + ".journal"))
    stop = asyncio.Event()
    serving = asyncio.create_task(transport.serve(transport.build(settings), settings, webhook=True, stop=stop))
    url = f"http://127.0.0.1:{port}/tg/hook"
    for _ in range(200):  # until the server answers (an empty POST without the secret: 403)
        try:
            async with aiohttp.ClientSession() as session, session.post(url) as answer:
                if answer.status == 403:
                    break
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.05)
    yield Hook(url, token, services.db)
    stop.set()
    await asyncio.wait_for(serving, 30)


async def test_a_request_without_the_secret_or_with_another_is_refused_and_changes_nothing(
    hook: Hook, emulator: Emulator
) -> None:
    update = recorded_update(700001, 41, REPORT.format(suffix="00041"))
    assert await hook.post(update, secret=None) == 403
    assert await hook.post(update, secret="an-other-secret-of-the-same-shape") == 403
    assert await hook.post(update, secret=SECRET[:-1]) == 403
    assert await hook.count(ReportRow) == 0 and await hook.count(DeliveryRow) == 0


async def test_a_recorded_update_with_the_secret_is_recorded_before_the_200_and_only_once(
    hook: Hook, emulator: Emulator
) -> None:
    update = recorded_update(700002, 42, REPORT.format(suffix="00042"))
    assert await hook.post(update) == 200
    assert await hook.count(ReportRow) == 1  # already stored when the 200 came back
    [receipt] = await wait_for_bot_messages(emulator, hook.token, 101, timeout=15)
    assert "回执号" in receipt["text"] and "138***00042" in receipt["text"]
    assert await hook.post(update) == 200  # Telegram delivering it again: nothing recorded, nothing sent
    assert await hook.count(ReportRow) == 1 and await hook.count(DeliveryRow) == 1
    with pytest.raises(TimeoutError):
        await wait_for_bot_messages(emulator, hook.token, 101, timeout=1.5)


async def test_a_body_that_is_not_an_update_is_refused(hook: Hook) -> None:
    assert await hook.post(b"{not json") == 400
    assert await hook.post(b"[1, 2, 3]") == 400
    assert await hook.post({}) == 400
    assert await hook.post({"update_id": "1; DROP TABLE report", "message": "x"}) == 400
    assert await hook.count(DeliveryRow) == 0


async def test_through_the_emulator_a_canvasser_reports_and_gets_the_receipt(hook: Hook, emulator: Emulator) -> None:
    li = TgUser(emulator, hook.token, 101, "李四")
    await li.say(101, REPORT.format(suffix="00043"))  # the emulator posts it to the webhook, with the secret
    [receipt] = await wait_for_bot_messages(emulator, hook.token, 101, timeout=15)
    assert "回执号" in receipt["text"] and "138***00043" in receipt["text"]
    [card] = await wait_for_bot_messages(emulator, hook.token, GROUP, timeout=15)
    assert "138***00043" in card["text"]
