"""A sales office with the web on, and browsers signed in through /web — for the web's tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import ClientResponse, ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from reportbot.bot.web.server import web_app
from reportbot.handlers.context import Services, WebLinks
from reportbot.handlers.messages import Incoming, Send
from reportbot.handlers.web_access import handle_web
from reportbot.rules.visit_code import code_key
from reportbot.scheduler.clock import ManualClock
from tests.conftest import local

WEB_URL = "https://desk.example.com"
WEB_SECRET = "a-web-secret-for-tests-only-0123456789abcdef"


def with_web(svc: Services) -> Services:
    return replace(svc, web=WebLinks(WEB_URL, code_key(WEB_SECRET)))


async def sign_in_link(svc: Services, user: str, clock: ManualClock) -> str:
    """The token of the link /web sends ``user`` (a Telegram id of the demo office)."""
    async with svc.db.uow(write=False) as uow:
        staff = await uow.staff.by_identity(("telegram",), user)
    assert staff is not None
    [link] = await handle_web(Incoming("telegram", user, user, False, "/web", clock.now()), staff, svc)
    assert isinstance(link, Send) and link.ephemeral
    found = re.search(r"/login/(\S+)", link.text)
    assert found is not None
    return found[1]


@dataclass
class Browser:
    """One person's browser: a cookie jar, the server, and the CSRF token of the last page seen."""

    session: ClientSession
    server: TestServer
    csrf: str = ""

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def get(self, path: str, **kwargs: Any) -> tuple[ClientResponse, str]:
        response = await self.session.get(self.url(path), **kwargs)
        return response, await self._read(response)

    async def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
                   **kwargs: Any) -> tuple[ClientResponse, str]:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf", self.csrf)
        response = await self.session.post(self.url(path), data=body, **kwargs)
        return response, await self._read(response)

    async def _read(self, response: ClientResponse) -> str:
        text = await response.text() if response.content_type.startswith("text/") else ""
        if found := re.search(r'name="csrf" value="([^"]+)"', text):
            self.csrf = found[1]
        return text


@asynccontextmanager
async def browsers(svc: Services, clock: ManualClock) -> AsyncIterator[tuple[TestServer, Any]]:
    """The web on a test server, and a way to open a browser signed in as a demo person (or as nobody)."""
    app = web_app(svc, clock, secure_cookies=False)
    sessions: list[ClientSession] = []
    async with TestServer(app) as server:
        async def browser(user: str | None = None) -> Browser:
            session = ClientSession(cookie_jar=CookieJar(unsafe=True))
            sessions.append(session)
            opened = Browser(session, server)
            if user is not None:
                token = await sign_in_link(svc, user, clock)
                response, _ = await opened.post(f"/login/{token}", csrf=False)
                assert response.status == 200, response.status
                await opened.get("/")
            return opened

        try:
            yield server, browser
        finally:
            for session in sessions:
                await session.close()


def office_clock() -> ManualClock:
    return ManualClock(local("2026-11-23 10:00"))
