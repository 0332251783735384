"""A Bot API in front of the emulator that redelivers, as Telegram does after a crash.

Telegram keeps handing out an update in ``getUpdates`` until the bot confirms it by asking with a
higher ``offset``. The emulator hands each update out once and never again, so a bot killed between
receiving and confirming would simply lose updates there. This layer forwards every call to the
emulator, remembers the updates it handed out, drops them once confirmed, and after ``crashed()``
answers ``getUpdates`` with the unconfirmed ones (same update_id, same message) until they are
confirmed, before it asks the emulator for new ones.
"""

from __future__ import annotations

import json
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import ClientSession, TCPConnector, web


class ReplayingBotApi:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")  # the emulator's root, e.g. http://127.0.0.1:PORT
        self.unconfirmed: dict[int, dict[str, Any]] = {}
        self.redelivering = False
        self.handed_out = 0  # updates handed out, counting redeliveries
        self.redelivered: set[int] = set()
        self.sent_messages = 0  # sendMessage calls the bot made that the emulator accepted
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        # A fresh connection per call: node closes idle keep-alive connections after 5 s, and a request
        # sent on one just as it closes would fail here for a reason Telegram never has.
        self._client = ClientSession(connector=TCPConnector(force_close=True))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None and self._client is not None
        await self._client.close()
        await self._runner.cleanup()

    def crashed(self) -> None:
        """The bot died: what it received but did not confirm is handed out again from now on."""
        self.redelivering = bool(self.unconfirmed)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._client is not None
        body = await request.read()
        method = request.path.rsplit("/", 1)[-1]
        if method == "getUpdates":
            offset = _offset(request.headers.get("Content-Type", ""), body, request.query)
            self._confirm(offset)
            if self.redelivering:
                again = [u for _, u in sorted(self.unconfirmed.items()) if u["update_id"] >= offset]
                if again:
                    self.handed_out += len(again)
                    self.redelivered.update(u["update_id"] for u in again)
                    return web.json_response({"ok": True, "result": again})
                self.redelivering = False
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type",)}
        async with self._client.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as upstream:
            payload = await upstream.read()
            status = upstream.status
            content_type = upstream.headers.get("Content-Type", "application/json")
        if status == 200 and method in ("getUpdates", "sendMessage"):
            answer = json.loads(payload)
            if method == "getUpdates":
                for update in answer.get("result") or []:
                    self.unconfirmed[update["update_id"]] = update
                    self.handed_out += 1
            elif answer.get("ok"):
                self.sent_messages += 1
        return web.Response(body=payload, status=status, headers={"Content-Type": content_type})

    def _confirm(self, offset: int) -> None:
        for update_id in [u for u in self.unconfirmed if u < offset]:
            del self.unconfirmed[update_id]


def _offset(content_type: str, body: bytes, query: Any) -> int:
    params: dict[str, Any] = dict(query)
    if body:
        if content_type.startswith("application/json"):
            params.update(json.loads(body))
        elif content_type.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode()))
    try:
        return int(params.get("offset") or 0)
    except (TypeError, ValueError):
        return 0
