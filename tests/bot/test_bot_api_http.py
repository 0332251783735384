"""The Bot API over aiohttp (bot/bot_api_http.py), against a small local HTTP server standing in for Telegram.

PTB's own Bot drives the request, so what is checked is what Telegram would see and what PTB makes of
the answers: form fields, an upload, a refusal, a timeout, a server that is not there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, TimedOut

from reportbot.bot.bot_api_http import AiohttpRequest
from reportbot.bot.telegram import TelegramTransport
from reportbot.bot.telegram_send import GET_UPDATES_CONNECTIONS, SEND_CONNECTIONS
from reportbot.handlers.context import Services
from reportbot.scheduler.clock import SystemClock

TOKEN = "123:test"
Handler = Callable[[str, web.Request], Awaitable[web.Response]]


def message(chat_id: int, text: str | None = None) -> dict[str, Any]:
    sent = {"message_id": 7, "date": 1_790_000_000, "chat": {"id": chat_id, "type": "private"}}
    return sent | ({"text": text} if text is not None else {})


def ok(result: object) -> web.Response:
    return web.json_response({"ok": True, "result": result})


@asynccontextmanager
async def bot_api(handle: Handler) -> AsyncIterator[str]:
    """A server answering /bot<token>/<method> with ``handle(method, request)``: its base URL."""

    async def route(request: web.Request) -> web.Response:
        return await handle(request.match_info["method"], request)

    app = web.Application()
    app.router.add_post(f"/bot{TOKEN}/{{method}}", route)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def bot_on(base_url: str, size: int = 2) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, base_url=base_url, request=AiohttpRequest(size), get_updates_request=AiohttpRequest(1))
    await bot._request[0].initialize()
    await bot._request[1].initialize()
    try:
        yield bot
    finally:
        await bot.shutdown()
        await bot._request[0].shutdown()
        await bot._request[1].shutdown()


async def test_a_message_goes_out_as_form_fields_and_comes_back_as_ptbs_message() -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    async def handle(method: str, request: web.Request) -> web.Response:
        form = await request.post()
        seen.append((method, {k: str(v) for k, v in form.items()}))
        return ok(message(int(str(form["chat_id"])), str(form["text"])))

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("确认", callback_data="ok:1")]])
    async with bot_api(handle) as url, bot_on(url) as bot:
        sent = await bot.send_message(101, "回执号 BB-20261127-0001", reply_markup=keyboard)
    assert sent.text == "回执号 BB-20261127-0001" and sent.chat.id == 101 and sent.message_id == 7
    [(method, fields)] = seen
    assert (
        method == "sendMessage" and fields["chat_id"] == "101" and fields["text"] == "回执号 BB-20261127-0001"
    )
    assert json.loads(fields["reply_markup"]) == {
        "inline_keyboard": [[{"text": "确认", "callback_data": "ok:1"}]]
    }


async def test_a_document_goes_out_as_a_multipart_upload_with_its_fields() -> None:
    seen: dict[str, Any] = {}

    async def handle(method: str, request: web.Request) -> web.Response:
        form = await request.post()
        upload = form["document"]
        assert isinstance(upload, web.FileField)
        seen.update(method=method, chat_id=form["chat_id"], caption=form["caption"], filename=upload.filename,
                    content=upload.file.read())  # fmt: skip
        return ok(
            message(202) | {"document": {"file_id": "f", "file_unique_id": "u", "file_name": upload.filename}}
        )

    async with bot_api(handle) as url, bot_on(url) as bot:
        await bot.send_document(
            202, b"\xef\xbb\xbf\xe5\x9b\x9e\xe6\x89\xa7\n", filename="报备.csv", caption="导出"
        )
    assert seen == {"method": "sendDocument", "chat_id": "202", "caption": "导出", "filename": "报备.csv",
                    "content": b"\xef\xbb\xbf\xe5\x9b\x9e\xe6\x89\xa7\n"}  # fmt: skip


async def test_a_refusal_reaches_ptb_with_its_status_and_description() -> None:
    async def handle(method: str, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, status=400
        )

    async with bot_api(handle) as url, bot_on(url) as bot:
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message(303, "回执")


async def test_an_answer_slower_than_the_read_timeout_is_timed_out_and_a_missing_server_a_network_error() -> (
    None
):
    async def handle(method: str, request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return ok(True)

    async with bot_api(handle) as url, bot_on(url) as bot:
        with pytest.raises(TimedOut):
            await bot.send_message(404, "回执", read_timeout=0.05)
    async with bot_on(url) as bot:  # the server has gone: nothing listens on its port any more
        with pytest.raises(NetworkError) as refused:
            await bot.send_message(404, "回执")
    assert not isinstance(refused.value, TimedOut) and "aiohttp." in str(refused.value)


async def test_a_proxy_named_in_the_environment_carries_the_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """As with PTB's own client (httpx trusts the environment): an office behind a proxy sets HTTPS_PROXY."""
    asked: list[str] = []

    async def handle(method: str, request: web.Request) -> web.Response:
        asked.append(str(request.url))  # a proxy is asked for the whole address
        return ok(message(505, "回执"))

    for name in (
        "NO_PROXY",
        "no_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    async with bot_api(handle) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.removesuffix("/bot"))
        async with bot_on("http://api.telegram.invalid/bot") as bot:
            sent = await bot.send_message(505, "回执")
    assert sent.text == "回执" and asked == [f"http://api.telegram.invalid/bot{TOKEN}/sendMessage"]

    async with bot_api(handle) as url:  # NO_PROXY names the host: straight to it
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with bot_on(url) as bot:
            await bot.send_message(505, "回执")
    assert len(asked) == 2 and asked[1].startswith("http://127.0.0.1:")


async def test_requests_beyond_the_slots_wait_their_turn_and_all_go_out() -> None:
    """Never more than ``size`` requests in flight, in order of asking, and every one goes out."""
    in_flight, peak, served = 0, 0, []

    async def handle(method: str, request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        form = await request.post()
        served.append(int(str(form["chat_id"])))
        return ok(message(int(str(form["chat_id"])), "ok"))

    async with bot_api(handle) as url, bot_on(url, size=3) as bot:
        answers = await asyncio.gather(*(bot.send_message(i, "ok") for i in range(20)))
    assert peak == 3
    assert sorted(served) == list(range(20)) and [a.chat.id for a in answers] == list(range(20))


async def test_a_request_before_initialize_or_after_shutdown_is_refused() -> None:
    request = AiohttpRequest(1)
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()  # twice is harmless
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot", "POST")


def test_the_bot_built_for_run_talks_through_aiohttp(svc: Services, tmp_path: Path) -> None:
    from reportbot.bot.settings import Settings

    transport = TelegramTransport(svc, SystemClock(), tmp_path / "journal")
    application = transport.build(
        Settings(telegram_bot_token="1:x", telegram_base_url="http://127.0.0.1:9/bot")
    )
    updates, calls = application.bot._request  # [0] getUpdates, [1] every other call
    assert isinstance(updates, AiohttpRequest) and updates._size == GET_UPDATES_CONNECTIONS
    assert isinstance(calls, AiohttpRequest) and calls._size == SEND_CONNECTIONS
    transport.journal.close()
