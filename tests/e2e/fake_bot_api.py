"""A small fake of the Telegram Bot API, for what telegram-test-api cannot do: photo and document uploads.

telegram-test-api answers sendPhoto and sendDocument with HTTP 500 and parses no multipart body, so the
end-to-end tests of /stats (a chart) and /export (a workbook) run the real python-telegram-bot
application against this server instead. It speaks just enough of the Bot API for a polling bot —
getMe, deleteWebhook, setWebhook, getUpdates, setMyCommands, sendMessage, sendPhoto, sendDocument, answerCallbackQuery,
editMessageText, deleteMessage — parses every request as a form (multipart or urlencoded, as PTB sends
them) and keeps what the bot sent, uploaded files as bytes, for the test to check.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web
from aiohttp.web_request import FileField

BOT_ID = 777000


@dataclass
class Upload:
    """A file the bot uploaded, as received: its form field's file name, content type and bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class Sent:
    """One call the bot made that shows something to people (a message, a photo, a document)."""

    method: str
    chat_id: int
    text: str | None = None  # the message's text or the file's caption
    upload: Upload | None = None
    message_id: int = 0
    params: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when the fake took it (this process's clock)


class FakeBotApi:
    """``async with FakeBotApi() as api``: serves http://127.0.0.1:<port>/bot<token>/<method>."""

    def __init__(self) -> None:
        self.token = f"{BOT_ID}:AA{secrets.token_urlsafe(24)}"
        self.sent: list[Sent] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._taken: set[int] = set()  # indices into ``sent`` already returned by wait_for
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.webhook: dict[str, str] | None = None  # setWebhook's parameters, once the bot set one

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    # ---- what people do
    def message_update(self, user_id: int, name: str, chat_id: int, text: str) -> dict[str, Any]:
        """The update Telegram makes of ``user_id`` writing ``text`` in ``chat_id`` (their own id: private)."""
        command = text.split()[0] if text.startswith("/") else ""
        entities = [{"type": "bot_command", "offset": 0, "length": len(command)}] if command else []
        chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": name}
        if chat_id < 0:
            chat = {"id": chat_id, "type": "supergroup", "title": "项目群"}
        message = {
            "message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "text": text,
            "from": {"id": user_id, "is_bot": False, "first_name": name}, "entities": entities,
        }
        return {"update_id": next(self._update_ids), "message": message}

    def press_update(self, user_id: int, name: str, on: Sent, label: str) -> dict[str, Any]:
        """The update of ``user_id`` pressing the button labelled ``label`` under the bot's message ``on``."""
        markup = json.loads(on.params["reply_markup"])
        data = next(b["callback_data"] for row in markup["inline_keyboard"] for b in row if b["text"] == label)
        chat = {"id": on.chat_id, "type": "private" if on.chat_id > 0 else "supergroup"}
        message = {"message_id": on.message_id, "date": int(time.time()), "chat": chat, "text": on.text or "",
                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Fake"}}
        query = {"id": secrets.token_hex(8), "from": {"id": user_id, "is_bot": False, "first_name": name},
                 "chat_instance": "1", "message": message, "data": data}
        return {"update_id": next(self._update_ids), "callback_query": query}

    async def say(self, user_id: int, name: str, chat_id: int, text: str) -> None:
        """``user_id`` writes ``text`` in ``chat_id`` (their own id: a private chat)."""
        await self.hand_out(self.message_update(user_id, name, chat_id, text))

    async def press(self, user_id: int, name: str, on: Sent, label: str) -> None:
        await self.hand_out(self.press_update(user_id, name, on, label))

    async def hand_out(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (until confirmed by a higher offset, as Telegram does)."""
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()

    def messages_to(self, chat_id: int, method: str = "sendMessage") -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id and s.method == method]

    async def wait_for(self, chat_id: int, method: str, timeout: float = 30.0) -> Sent:
        """The first call of ``method`` to ``chat_id`` not yet taken by an earlier wait."""
        async def found() -> Sent:
            async with self._changed:
                while True:
                    for index, item in enumerate(self.sent):
                        if item.chat_id == chat_id and item.method == method and index not in self._taken:
                            self._taken.add(index)
                            return item
                    await self._changed.wait()

        return await asyncio.wait_for(found(), timeout)

    # ---- the Bot API
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
        files = {k: v for k, v in form.items() if isinstance(v, FileField)}
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return _error(404, "Not Found: method not in the fake")
        return web.json_response({"ok": True, "result": await handler(params, files)})

    async def _m_getme(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Fake", "username": "FakeReportBot",
                "can_join_groups": True, "can_read_all_group_messages": True, "supports_inline_queries": False}

    async def _m_deletewebhook(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        return True

    async def _m_setwebhook(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        self.webhook = dict(params)
        return True

    async def _m_setmycommands(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        return True

    async def _m_answercallbackquery(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        return True

    async def _m_deletemessage(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        return True

    async def _m_getupdates(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        offset = int(params.get("offset") or 0)
        async with self._changed:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]  # earlier ones are confirmed
            if not self._updates:
                try:  # a short long-poll: the bot's shutdown never waits long for it
                    await asyncio.wait_for(self._changed.wait(), 0.2)
                except TimeoutError:
                    pass
            return list(self._updates)

    async def _m_sendmessage(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        return await self._record("sendMessage", params, params.get("text"), None)

    async def _m_editmessagetext(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        return await self._record("editMessageText", params, params.get("text"), None)

    async def _m_sendphoto(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        upload = _upload(files["photo"])
        message = await self._record("sendPhoto", params, params.get("caption"), upload)
        message["photo"] = [{"file_id": f"photo{message['message_id']}", "file_unique_id": f"p{message['message_id']}",
                             "width": 1100, "height": 594, "file_size": len(upload.data)}]
        return message

    async def _m_senddocument(self, params: dict[str, str], files: dict[str, FileField]) -> Any:
        upload = _upload(files["document"])
        message = await self._record("sendDocument", params, params.get("caption"), upload)
        message["document"] = {"file_id": f"doc{message['message_id']}", "file_unique_id": f"d{message['message_id']}",
                               "file_name": upload.filename, "mime_type": upload.content_type,
                               "file_size": len(upload.data)}
        return message

    async def _record(
        self, method: str, params: dict[str, str], text: str | None, upload: Upload | None
    ) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message_id = next(self._message_ids)
        async with self._changed:
            self.sent.append(Sent(method, chat_id, text, upload, message_id, dict(params)))
            self._changed.notify_all()
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        message: dict[str, Any] = {"message_id": message_id, "date": int(time.time()), "chat": chat,
                                   "from": {"id": BOT_ID, "is_bot": True, "first_name": "Fake"}}
        if method in ("sendMessage", "editMessageText"):
            message["text"] = text or ""
        elif text:
            message["caption"] = text
        if "reply_markup" in params:
            message["reply_markup"] = json.loads(params["reply_markup"])
        return message


def _upload(part: FileField) -> Upload:
    return Upload(part.filename, part.content_type, part.file.read())


def _error(status: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)
