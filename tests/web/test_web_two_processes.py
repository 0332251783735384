"""`reportbot web` alone beside `reportbot run` (issue 23, "How it runs"): what a page records reaches the channel
once, sent by the process that holds the channel.

Both are the real commands, as child processes, on one ledger. The bot polls the Bot API fake; the web
serves the desk. The canvasser reports and the assistant asks for /web in chat (the bot's process makes the
link); the assistant registers the visit in the web's process; the group's notice and the owner's arrive
through the bot's process, each exactly once.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar

from tests.e2e.fake_bot_api import FakeBotApi
from tests.e2e.outage import ASSISTANT, CANVASSERS, GROUP, BotProcess, bot_env, register, report, until
from tests.fakes.pg_cluster import free_port
from tests.web.desk import WEB_SECRET

pytestmark = pytest.mark.e2e


async def test_a_visit_registered_in_the_web_process_is_announced_once_by_the_bot_process(
    db_url: str, tmp_path: Path
) -> None:
    await register(db_url)
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    async with FakeBotApi() as api:
        links = {"WEB_URL": web_url, "WEB_SECRET": WEB_SECRET}
        bot = BotProcess(bot_env(api, db_url, tmp_path, **links), tmp_path)
        desk = BotProcess(bot_env(api, db_url, tmp_path, WEB_LISTEN=f"127.0.0.1:{port}", TELEGRAM_BOT_TOKEN="",
                                  **links), tmp_path, args=("web",))
        await bot.start()
        await desk.start()
        try:
            user, name, text, phone = report(0)
            await api.say(user, name, user, text)
            await until(lambda: any("回执号" in (s.text or "") for s in api.messages_to(user)), 30, "the receipt", bot)
            await api.say(ASSISTANT[0], ASSISTANT[1], ASSISTANT[0], "/web")
            await until(lambda: any("/login/" in (s.text or "") for s in api.messages_to(ASSISTANT[0])), 30,
                        "the sign-in link", bot)
            link = next(s.text for s in api.messages_to(ASSISTANT[0]) if s.text and "/login/" in s.text)
            token = re.search(r"/login/(\S+)", link)[1]  # type: ignore[index]
            async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:
                async def up() -> bool:
                    try:
                        async with browser.get(f"{web_url}/healthz") as answer:
                            return answer.status in (200, 503)
                    except OSError:
                        return False

                await until(up, 30, "the web to listen", desk)
                async with browser.post(f"{web_url}/login/{token}") as answer:
                    page = await answer.text()
                csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]  # type: ignore[index]
                async with browser.post(f"{web_url}/desk", data={"csrf": csrf, "q": phone}) as answer:
                    preview = await answer.text()
                    project = re.search(r'name="p" value="(\d+)"', preview)[1]  # type: ignore[index]
                async with browser.post(f"{web_url}/desk/visit", data={"csrf": csrf, "p": project, "phone": phone,
                                                                       "by": "", "companions": "0"}) as answer:
                    assert answer.status == 200 and "已登记到访" in await answer.text()

            def announced(chat: int) -> list[str]:
                return [s.text or "" for s in api.messages_to(chat) if "判客结果" in (s.text or "")]

            await until(lambda: bool(announced(GROUP)) and bool(announced(user)), 30, "the notices, sent by the bot", bot)
            await asyncio.sleep(6)  # two more rounds of the bot's look for answers stored elsewhere
            assert len(announced(GROUP)) == 1 and len(announced(user)) == 1
            assert CANVASSERS[0][1] in announced(GROUP)[0]
            assert bot.alive and desk.alive
        finally:
            await desk.stop()
            await bot.stop()
    assert "Traceback" not in bot.output() + desk.output(), (bot.output() + desk.output())[-3000:]
