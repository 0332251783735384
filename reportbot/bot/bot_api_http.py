"""The Bot API over aiohttp: PTB's requests at a fraction of httpx's CPU, a few in flight at once.

python-telegram-bot talks HTTP through a ``BaseRequest``; its own, ``HTTPXRequest``, goes through httpx,
httpcore and anyio. Profiled while the bot answered 2,000 reports (py-spy), half of the bot process's
CPU went into that stack: building and tearing down each request, and matching every request with every
pooled connection, which asks each connection's socket for its peer address (a system call) every time.
aiohttp, which the webhook already serves with, does the same request in far fewer steps.

``AiohttpRequest`` speaks to the Bot API as HTTPXRequest does: the parameters form-encoded (each value
JSON-encoded by PTB), multipart when a file goes with them; PTB's timeouts, a network failure as
``NetworkError`` and a timeout as ``TimedOut``; an HTTP proxy named by the environment (HTTPS_PROXY,
HTTP_PROXY, NO_PROXY), as httpx used it. aiohttp's own ``trust_env`` reads the whole environment again
for every request (80 µs here, a tenth of a report's CPU), so the proxy is looked up once per host
instead. At most ``size`` requests are in flight; the others wait their turn on a semaphore, in order
(the per-chat queues of bot/outbox.py put one send per chat in flight at once). The wait comes after the
rate limiter's (which wraps the whole request), so a group held back by its limit never holds a slot.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# HTTPXRequest's defaults, in seconds
CONNECT_TIMEOUT = READ_TIMEOUT = WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0  # an upload (a chart, an export) may take longer to write


class AiohttpRequest(BaseRequest):
    """A ``BaseRequest`` on one aiohttp session with ``size`` connections and as many requests in flight."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._slots = asyncio.Semaphore(size)
        self._session: aiohttp.ClientSession | None = None
        # (scheme, host:port) → the proxy the environment names for it, looked up once
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float:
        return READ_TIMEOUT

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # The CA bundle httpx uses (certifi), so that the bot trusts what it trusted before.
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._size, ssl=tls),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See ``BaseRequest.do_request``. ``pool_timeout`` does not apply: a request waits for its slot."""
        if self._session is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        data: aiohttp.FormData | dict[str, str] | None = _multipart(fields or {}, files) if files else fields
        connect = _given(connect_timeout, CONNECT_TIMEOUT)
        read = _given(read_timeout, READ_TIMEOUT)
        write = _given(write_timeout, MEDIA_WRITE_TIMEOUT if files else WRITE_TIMEOUT)
        # aiohttp has no timeout for writing the request: the whole of it is bounded by all three together.
        total = None if connect is None or read is None or write is None else connect + read + write
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        async with self._slots:
            try:
                async with self._session.request(
                    method, url, data=data, timeout=timeout, proxy=self._proxy_for(url)
                ) as response:
                    return response.status, await response.read()
            except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
                raise TimedOut from exc
            except aiohttp.ClientError as exc:
                raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc

    def _proxy_for(self, url: str) -> str | None:
        """The proxy the environment names for ``url``'s scheme, unless NO_PROXY names its host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxies:
            proxy = urllib.request.getproxies().get(parts.scheme)
            if proxy and urllib.request.proxy_bypass(parts.hostname or ""):
                proxy = None
            self._proxies[key] = proxy
        return self._proxies[key]


def _given(value: Any, default: float) -> float | None:
    """A timeout PTB passed (a number, or None for none), else the default (PTB's DEFAULT_NONE)."""
    return value if value is None or isinstance(value, int | float) else default


def _multipart(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)  # a file name as typed (UTF-8), as httpx and browsers send it
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
