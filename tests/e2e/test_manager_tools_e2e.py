"""/stats answers with a photo and /export with a document, end to end: the real python-telegram-bot
application polling the project's own Bot API fake, which parses the multipart uploads (telegram-test-api
answers sendPhoto and sendDocument with HTTP 500). The files are checked as they arrive."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from reportbot.bot.settings import Settings
from reportbot.bot.telegram import TelegramTransport
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from tests.e2e.conftest import morning_clock
from tests.e2e.emulator import running_application
from tests.e2e.fake_bot_api import FakeBotApi

pytestmark = [pytest.mark.e2e]

GROUP = -1001234567890
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Office:
    api: FakeBotApi
    transport: TelegramTransport


@pytest.fixture
async def office(sqlite_url: str) -> AsyncIterator[Office]:
    policy = Policy()
    services = Services(db=Database(sqlite_url), render=Renderer(policy.timezone), policy=policy)
    clock = morning_clock(policy)
    await directory.add_project(services.db, "森林半岛", str(GROUP), None, clock.now())
    for entry in (
        NewStaff("李四", "飞虎队", "canvasser", "101", project="森林半岛"),
        NewStaff("王五", "猛虎队", "canvasser", "103", project="森林半岛"),
        NewStaff("陈经理", "案场", "manager", "104", project="森林半岛"),
    ):
        await directory.add_staff(services.db, entry, clock.now())
    async with FakeBotApi() as api:
        transport = TelegramTransport(services, clock, Path(sqlite_url.split("///", 1)[1] + ".journal"))
        application = transport.build(Settings(telegram_bot_token=api.token, telegram_base_url=api.base_url))
        async with running_application(application):
            await transport.on_start(application)
            yield Office(api, transport)
            await transport.outbox.drain()
        await transport.on_shutdown(application)


async def report(office: Office, user: int, name: str, team: str, phone: str) -> None:
    await office.api.say(user, name, user, f"报备 张先生 {phone} {team} {name} 明天下午3点")
    assert "回执号" in ((await office.api.wait_for(user, "sendMessage")).text or "")


async def test_stats_answers_with_the_table_and_the_chart_as_a_photo(office: Office) -> None:
    await report(office, 101, "李四", "飞虎队", "138***88888")
    await office.api.say(103, "王五", 103, "报备 钱女士 138***88888 猛虎队 王五 明天下午3点")  # a duplicate
    await office.api.wait_for(103, "sendMessage")

    await office.api.say(104, "陈经理", 104, "/stats today")
    table = (await office.api.wait_for(104, "sendMessage")).text or ""
    photo = await office.api.wait_for(104, "sendPhoto")

    assert "【飞虎队】报备1" in table and "【猛虎队】报备0 撞单1" in table
    assert photo.upload is not None and photo.upload.data.startswith(PNG_SIGNATURE)
    assert photo.upload.filename.endswith(".png") and len(photo.upload.data) > 10_000
    image = Image.open(io.BytesIO(photo.upload.data))
    assert image.format == "PNG" and image.width >= 800 and image.height >= 400
    assert "森林半岛" in (photo.text or "") and "统计" in (photo.text or "")


async def test_export_answers_with_the_workbook_as_a_document(office: Office) -> None:
    await report(office, 101, "李四", "飞虎队", "13912345678")  # a whole number: stored and exported masked

    await office.api.say(104, "陈经理", 104, "/export today")
    document = await office.api.wait_for(104, "sendDocument")

    assert document.upload is not None and document.upload.filename.endswith(".xlsx")
    assert document.upload.filename.startswith("报备台账-森林半岛-")
    book = load_workbook(io.BytesIO(document.upload.data))
    assert book.sheetnames == ["报备", "到访判客", "撞单被拒", "提醒发送", "成交", "事件记录"]
    row = [cell.value for cell in book["报备"][2]]
    assert row[2:6] == ["张先生", "139***45678", "飞虎队", "李四"]
    cells = [str(c.value) for sheet in book for r in sheet.iter_rows() for c in r if c.value is not None]
    assert not [c for c in cells if "13912345678" in c]
    assert "报备 1 条" in (document.text or "")


async def test_export_asked_in_the_group_goes_to_the_manager_privately(office: Office) -> None:
    await office.api.say(104, "陈经理", GROUP, "/export")
    notice = await office.api.wait_for(GROUP, "sendMessage")
    document = await office.api.wait_for(104, "sendDocument")
    assert "私信" in (notice.text or "")
    assert document.upload is not None and load_workbook(io.BytesIO(document.upload.data)).sheetnames[0] == "报备"
    assert not [s for s in office.api.sent if s.chat_id == GROUP and s.method == "sendDocument"]
