"""The Feishu (飞书) transport: the app bot's events over the long connection in, actions out by the OpenAPI.

The long connection is the official SDK's (lark-oapi 1.7.5, ``lark_oapi.ws.Client``): it speaks Feishu's
protobuf frames, pings, and reconnects as Feishu tells it. It cannot run inside the bot's event loop: the
module takes an event loop when it is imported and ``start()`` blocks in ``run_until_complete`` on it. So
``FeishuLink`` gives it a thread and a loop of its own (set as the module's loop before it starts) and hands
each event to the bot's loop thread-safely; the SDK acknowledges an event when our handler returns, which is
once the event is in the spool (bot/chat_transport.py). An event not acknowledged, Feishu sends again.

Out, the OpenAPI over aiohttp: ``POST /open-apis/im/v1/messages`` (text, or a message card) to a group's
chat_id or a person's open_id, and a pressed card updated in place with ``PATCH …/messages/:message_id``.
The SDK's own HTTP client is not used: it fetches the tenant token with a blocking call inside async calls.
Feishu has no alert only the presser sees that could wait for the decision (the callback is answered once
spooled): a refusal reaches the presser privately.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reportbot.bot import feishu_frames as frames
from reportbot.bot.chat_queues import Outgoing, RateLimit, Refused, Retry
from reportbot.bot.chat_transport import Frame, SpooledTransport
from reportbot.bot.openapi import TokenedApi
from reportbot.bot.settings import Settings
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Edit, Incoming, Press
from reportbot.scheduler.clock import Clock

log = logging.getLogger(__name__)
CHANNEL = frames.CHANNEL
# Feishu: 5 messages a second into one chat (the group's bots together). The window is kept a little longer
# than Feishu's, so that the time a send takes to arrive never puts one past it.
FEISHU_LIMITS: tuple[tuple[int, float], ...] = ((5, 1.25),)
GATHERED_MOST = 20


@dataclass(frozen=True)
class Options:
    app_id: str
    app_secret: str
    domain: str = "https://open.feishu.cn"
    backoff_first: float = 1.0
    backoff_max: float = 60.0
    # The SDK gives up for good after the reconnect count Feishu sets, and before Feishu has configured it
    # it waits up to 30 s and then 120 s between tries: a connection down this long gets a fresh client.
    stuck_after: float = 300.0
    watch_every: float = 5.0


class OpenApi(TokenedApi):
    """The calls the bot makes, with the tenant access token (bot/openapi.py)."""

    def __init__(self, options: Options) -> None:
        super().__init__()
        self.options = options

    async def _fetch_token(self) -> tuple[str, int]:
        body = {"app_id": self.options.app_id, "app_secret": self.options.app_secret}
        url = f"{self.options.domain}/open-apis/auth/v3/tenant_access_token/internal"
        async with self.session.post(url, json=body) as response:
            got = await response.json(content_type=None)
        if got.get("code") != 0:
            raise RuntimeError(f"Feishu tenant_access_token: {got.get('code')} {got.get('msg')}")
        return str(got["tenant_access_token"]), int(got.get("expire", 7200))

    async def call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {await self.token()}"}
        async with self.session.request(method, f"{self.options.domain}{path}", json=body, headers=headers) as response:
            status = response.status
            got: dict[str, Any] = await response.json(content_type=None)
        if got.get("code") != 0:
            problem = f"Feishu {path}: HTTP {status}, {got.get('code')} {got.get('msg')}"
            if got.get("code") in (99991663, 99991661, 99991668):  # the token expired or is invalid: fetch it again
                self.forget_token()
                raise RuntimeError(problem)
            # a rate limit (99991400, HTTP 429) or Feishu's own trouble (5xx) passes; any other refusal stays one
            raise (RuntimeError if status in (429,) or status >= 500 or got.get("code") == 99991400 else Refused)(problem)
        return got


class FeishuLink:
    """The SDK's long connection on a thread and loop of its own; events handed to the bot's loop."""

    def __init__(self, options: Options, take: Callable[[str, Frame], asyncio.Future[bool]]) -> None:
        self.options = options
        self._take = take
        self._bot_loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()

    @property
    def connected(self) -> bool:
        return self._client is not None and getattr(self._client, "_conn", None) is not None

    def _handed_over(self, kind: str, data: Any) -> None:
        """On the SDK's thread: the event to the bot's loop; returns (and so is acknowledged) once spooled."""
        import lark_oapi as lark

        frame = json.loads(lark.JSON.marshal(data))
        assert self._bot_loop is not None

        async def arrive() -> bool:
            return await self._take(kind, frame)

        if not asyncio.run_coroutine_threadsafe(arrive(), self._bot_loop).result(timeout=60):
            raise RuntimeError("the event could not be spooled")  # not acknowledged: Feishu sends it again

    def _on_message(self, data: Any) -> None:
        self._handed_over("message", data)

    def _on_card(self, data: Any) -> Any:
        from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

        self._handed_over("event", data)
        return P2CardActionTriggerResponse({})  # the card is updated once the press is decided (PATCH)

    def _serve(self) -> None:
        """The SDK's thread: a fresh client after every failure, until stopped."""
        pause = self.options.backoff_first
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self._serve_once()
            except Exception as exc:  # noqa: BLE001 — a refused or failed connection: again after the back-off
                if not self._stopping.is_set():
                    log.warning("Feishu: the long connection failed (%s); again in %.0f s", exc, pause)
            if time.monotonic() - started > 60:
                pause = self.options.backoff_first
            self._stopping.wait(pause)
            pause = min(pause * 2, self.options.backoff_max)

    def _serve_once(self) -> None:
        """One client on a fresh loop, until its loop is stopped or it fails; then closed."""
        import lark_oapi as lark
        import lark_oapi.ws.client as ws_client

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        ws_client.loop = loop  # the module's loop, taken at import: the SDK runs everything on it
        client = None
        try:
            handler = (lark.EventDispatcherHandler.builder("", "")
                       .register_p2_im_message_receive_v1(self._on_message)
                       .register_p2_card_action_trigger(self._on_card).build())
            client = lark.ws.Client(self.options.app_id, self.options.app_secret, event_handler=handler,
                                    domain=self.options.domain, log_level=lark.LogLevel.WARNING)
            self._client, self._sdk_loop = client, loop
            if self._stopping.is_set():  # stopped while this client was being made
                return
            client.start()  # returns only when the loop is stopped, or raises
        finally:
            self._sdk_loop = None
            _close(loop, client)
            self._client = None

    async def run(self, stop: asyncio.Event) -> None:
        self._bot_loop = asyncio.get_running_loop()
        thread = threading.Thread(target=self._serve, name="feishu-ws", daemon=True)
        thread.start()
        down_since: float | None = None
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.options.watch_every)
            except TimeoutError:
                pass
            if self.connected or stop.is_set():
                down_since = None
            elif down_since is None:
                down_since = time.monotonic()
            elif time.monotonic() - down_since > self.options.stuck_after:
                log.warning("Feishu: no connection for %.0f s; starting a fresh client", time.monotonic() - down_since)
                down_since = None
                self._stop_sdk()
        self._stopping.set()
        for _ in range(40):  # a stop that came while the SDK was between its loop's runs is asked again
            self._stop_sdk()
            await asyncio.to_thread(thread.join, 0.25)
            if not thread.is_alive():
                return
        log.warning("Feishu: the SDK's thread did not stop within 10 s; it is left to end with the process")


    def _stop_sdk(self) -> None:
        """start() returns; the thread then closes the connection (_close) and, unless stopping, starts anew.
        The SDK's own reconnecting is switched off first: a stop that lands in its first connect would otherwise
        be taken for a failed connection, and retried."""
        client, loop = self._client, self._sdk_loop
        if client is not None:
            client._auto_reconnect = False
        if loop is not None:
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # its loop is already closed
                pass


def _close(loop: asyncio.AbstractEventLoop, client: Any) -> None:
    """The SDK's tasks cancelled first (its receive loop would otherwise take the close for a lost connection and
    reconnect, and its ``_disconnect`` releases a lock it may not hold when cancelled), then the connection
    closed cleanly, then the loop."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    conn = getattr(client, "_conn", None)
    try:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        if conn is not None:
            loop.run_until_complete(asyncio.wait_for(conn.close(), 5))
    except Exception as exc:  # noqa: BLE001 — closing as well as it can
        log.debug("Feishu: closing the long connection: %s", exc)
    loop.close()


class FeishuTransport(SpooledTransport):
    channel = CHANNEL
    label = "Feishu"

    def __init__(self, services: Services, clock: Clock, options: Options, spool: Path,
                 limit: RateLimit | None = None) -> None:
        # Sent over HTTP: an outage of Feishu's OpenAPI is waited out, not given up after a few tries.
        super().__init__(services, clock, spool, limit or RateLimit(FEISHU_LIMITS), gathered_most=GATHERED_MOST,
                         retry=Retry(attempts=None))
        self.options = options
        self.api = OpenApi(options)
        self.link = FeishuLink(options, self.arrive)

    @property
    def connected(self) -> bool:
        return self.link.connected

    @property
    def can_send(self) -> bool:
        return True  # through the OpenAPI, with or without the long connection

    async def run_link(self, stop: asyncio.Event) -> None:
        try:
            await self.link.run(stop)
        finally:
            await self.api.close()

    def delivery_key(self, frame: Frame) -> str | None:
        return frames.delivery_key(frame)

    def parse(self, kind: str, frame: Frame, now: datetime) -> Incoming | Press | None:
        return frames.incoming(frame, now) if kind == "message" else frames.press(frame, now)

    async def deliver(self, item: Outgoing) -> None:
        action = item.action
        if isinstance(action, Edit):
            card = json.dumps(frames.card(action.text, action.buttons), ensure_ascii=False)
            await self.api.call("PATCH", f"/open-apis/im/v1/messages/{action.message_id}", {"content": card})
            return
        content: dict[str, Any] = frames.card(action.text, action.buttons) if action.buttons else {"text": action.text}
        kind = "interactive" if action.buttons else "text"
        # uuid: Feishu posts a message once per uuid (within an hour), should a try go through unanswered
        body = {"receive_id": action.chat_id, "msg_type": kind, "content": json.dumps(content, ensure_ascii=False),
                "uuid": item.key}
        await self.api.call("POST", f"/open-apis/im/v1/messages?receive_id_type={frames.receive_id_type(action.chat_id)}",
                            body)


def options(settings: Settings) -> Options:
    assert settings.feishu_app_id and settings.feishu_app_secret
    return Options(settings.feishu_app_id, settings.feishu_app_secret.get_secret_value(), settings.feishu_domain)


def build(services: Services, clock: Clock, settings: Settings) -> FeishuTransport:
    return FeishuTransport(services, clock, options(settings), settings.spool_path(CHANNEL))
