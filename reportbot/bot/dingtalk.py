"""The DingTalk (钉钉) transport: a Stream-mode robot's callbacks in, neutral messages to the handlers, actions out.

The connection (钉钉 Stream 模式): the bot asks ``/v1.0/gateway/connections/open`` for an endpoint and a
ticket and keeps a WebSocket to it. The official SDK (dingtalk-stream 0.24.3) reads the frames, routes them
to our handlers and builds the acknowledgements; its own ``start()`` is not used: it opens the connection
with a blocking ``requests.post`` inside the event loop (the whole bot would stop for the call) and sleeps a
fixed 10 s after any error. ``DingTalkLink`` opens it with aiohttp and comes back after an exponential
back-off. A callback is acknowledged only once it is in the spool (bot/chat_transport.py): DingTalk re-sends
what was not acknowledged, so a crash before that loses nothing.

Out: a reply to a chat message goes to the message's ``sessionWebhook`` while it is valid; everything else —
and a reply whose webhook expired or failed — through the robot's OpenAPI with an access token: text to a
group (``/v1.0/robot/groupMessages/send``) or to people (``/v1.0/robot/oToMessages/batchSend``), cards
(``/v1.0/im/v1.0/robot/interactiveCards/send``), and a pressed card updated in place
(``PUT /v1.0/im/robots/interactiveCards``), which DingTalk allows at any time. DingTalk has no alert only the
presser sees: a refusal reaches them privately.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import websockets
from dingtalk_stream import AckMessage, CallbackHandler, CallbackMessage, Credential, DingTalkStreamClient

from reportbot.bot import dingtalk_frames as frames
from reportbot.bot.chat_queues import Outgoing, RateLimit, Refused, Retry
from reportbot.bot.chat_transport import Frame, SpooledTransport
from reportbot.bot.openapi import TokenedApi
from reportbot.bot.settings import Settings
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Edit, Incoming, Press
from reportbot.scheduler.clock import Clock

log = logging.getLogger(__name__)
CHANNEL = frames.CHANNEL
# 企业内部机器人: 20 messages a minute into one conversation (群聊 and 单聊 alike), the window kept a second
# longer than DingTalk's so that the time a send takes to arrive never puts one past it; 20 reports a card.
DINGTALK_LIMITS: tuple[tuple[int, float], ...] = ((20, 61.0),)
GATHERED_MOST = 20


@dataclass(frozen=True)
class Options:
    client_id: str
    client_secret: str
    endpoint: str = "https://api.dingtalk.com"
    backoff_first: float = 1.0
    backoff_max: float = 60.0


@dataclass(frozen=True)
class Webhook:
    """A chat message's sessionWebhook and when it expires (epoch milliseconds)."""

    url: str
    expires_ms: int

    @property
    def valid(self) -> bool:
        return self.expires_ms > time.time() * 1000 + 5_000


class OpenApi(TokenedApi):
    """The robot's OpenAPI calls, with its access token (bot/openapi.py)."""

    def __init__(self, options: Options) -> None:
        super().__init__()
        self.options = options

    async def _fetch_token(self) -> tuple[str, int]:
        body = {"appKey": self.options.client_id, "appSecret": self.options.client_secret}
        async with self.session.post(f"{self.options.endpoint}/v1.0/oauth2/accessToken", json=body) as response:
            response.raise_for_status()
            got = await response.json()
        return str(got["accessToken"]), int(got.get("expireIn", 7200))

    async def call(self, method: str, path: str, body: dict[str, Any]) -> Any:
        headers = {"x-acs-dingtalk-access-token": await self.token()}
        async with self.session.request(method, f"{self.options.endpoint}{path}", json=body, headers=headers) as response:
            if response.status == 401:
                self.forget_token()
            if response.status >= 400:
                said = (await response.text())[:200]
                problem = f"DingTalk {path}: HTTP {response.status} {said}"
                # a stale token (401), a rate limit (429, or 403 …QpsLimit…) and DingTalk's own trouble (5xx) pass;
                # any other refusal stays one
                passing = response.status in (401, 429) or response.status >= 500 or "QpsLimit" in said
                raise (RuntimeError if passing else Refused)(problem)
            return await response.json(content_type=None)

    async def webhook(self, hook: Webhook, text: str) -> None:
        body = {"msgtype": "text", "text": {"content": text}}
        async with self.session.post(hook.url, json=body) as response:
            response.raise_for_status()
            got = await response.json(content_type=None)
        if isinstance(got, dict) and got.get("errcode") not in (None, 0):
            raise RuntimeError(f"DingTalk sessionWebhook: {got}")

    async def open_connection(self, topics: list[str]) -> dict[str, Any]:
        """The Stream endpoint and ticket (what the SDK's blocking ``open_connection`` asks, asked without blocking)."""
        body = {
            "clientId": self.options.client_id, "clientSecret": self.options.client_secret,
            "subscriptions": [{"type": "CALLBACK", "topic": topic} for topic in topics],
            "ua": "reportbot (dingtalk-stream 0.24.3 frames)", "localIp": "",
        }
        async with self.session.post(f"{self.options.endpoint}/v1.0/gateway/connections/open", json=body) as response:
            response.raise_for_status()
            got: dict[str, Any] = await response.json(content_type=None)
        return got


class _Spooling(CallbackHandler):  # type: ignore[misc]  # dingtalk-stream ships no types: its classes are Any
    """An SDK callback handler that hands the frame to the transport and acknowledges once it is spooled."""

    def __init__(self, transport: DingTalkTransport, topic: str) -> None:
        super().__init__()
        self.transport = transport
        self.topic = topic

    async def process(self, message: CallbackMessage) -> tuple[int, str]:
        frame = frames.spooled(self.topic, message.headers.message_id, message.data)
        on_disk = await self.transport.arrive("message" if self.topic == frames.MESSAGE_TOPIC else "event", frame,
                                              _webhook(message.data))
        # Not on disk: not acknowledged, so DingTalk sends it again (handled once: its delivery key).
        return (AckMessage.STATUS_OK, "OK") if on_disk else (AckMessage.STATUS_SYSTEM_EXCEPTION, "spool failed")


def _webhook(data: dict[str, Any]) -> Webhook | None:
    url, expires = data.get("sessionWebhook"), data.get("sessionWebhookExpiredTime")
    return Webhook(str(url), int(expires)) if url and expires else None


class DingTalkTransport(SpooledTransport):
    channel = CHANNEL
    label = "DingTalk"

    def __init__(self, services: Services, clock: Clock, options: Options, spool: Path,
                 limit: RateLimit | None = None) -> None:
        # Sent over HTTP: an outage of DingTalk's OpenAPI is waited out, not given up after a few tries.
        super().__init__(services, clock, spool, limit or RateLimit(DINGTALK_LIMITS), gathered_most=GATHERED_MOST,
                         retry=Retry(attempts=None))
        self.options = options
        self.api = OpenApi(options)
        # The SDK warns of every system ping it routes ("unknown message topic"): only its errors are worth a line.
        sdk_log = logging.getLogger("reportbot.dingtalk_sdk")
        sdk_log.setLevel(logging.ERROR)
        self.sdk = DingTalkStreamClient(Credential(options.client_id, options.client_secret), logger=sdk_log)
        for topic in (frames.MESSAGE_TOPIC, frames.CARD_TOPIC):
            self.sdk.register_callback_handler(topic, _Spooling(self, topic))
        self._up = asyncio.Event()

    # -- the connection --

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    @property
    def can_send(self) -> bool:
        return True  # through the OpenAPI, with or without the Stream connection

    async def run_link(self, stop: asyncio.Event) -> None:
        try:
            await self._keep_connected(stop)
        finally:
            await self.api.close()

    async def _keep_connected(self, stop: asyncio.Event) -> None:
        pause = self.options.backoff_first
        while not stop.is_set():
            try:
                opened = await self.api.open_connection(list(self.sdk.callback_handler_map))
                uri = f"{opened['endpoint']}?ticket={quote_plus(opened['ticket'])}"
                async with websockets.connect(uri, proxy=None) as socket:
                    self.sdk.websocket = socket
                    self._up.set()
                    pause = self.options.backoff_first
                    log.info("DingTalk: connected")
                    await self._read(socket, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — any failure: a new connection after the back-off
                log.warning("DingTalk: connection failed or lost (%s); again in %.0f s", exc, pause)
            finally:
                self._up.clear()
                self.sdk.websocket = None
            if stop.is_set():
                break
            try:
                await asyncio.wait_for(stop.wait(), pause)
            except TimeoutError:
                pass
            pause = min(pause * 2, self.options.backoff_max)

    async def _read(self, socket: Any, stop: asyncio.Event) -> None:
        """Frames to the SDK's router, each on a task of its own (the ack waits for the spool, not the reading)."""
        pending: set[asyncio.Task[None]] = set()
        stopping = asyncio.create_task(stop.wait())
        try:
            while True:
                receiving = asyncio.create_task(socket.recv())
                done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    receiving.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    return
                task = asyncio.create_task(self._route(socket, receiving.result()))
                pending.add(task)
                task.add_done_callback(pending.discard)
        finally:
            stopping.cancel()

    async def _route(self, socket: Any, raw: str | bytes) -> None:
        try:
            if await self.sdk.route_message(json.loads(raw)) == DingTalkStreamClient.TAG_DISCONNECT:
                await socket.close()  # DingTalk asks to reconnect (it is moving the connection)
        except Exception as exc:  # noqa: BLE001 — not acknowledged: DingTalk sends it again
            log.warning("DingTalk: a frame could not be taken (%s)", exc)

    # -- in --

    def delivery_key(self, frame: Frame) -> str | None:
        return frames.delivery_key(frame)

    def parse(self, kind: str, frame: Frame, now: datetime) -> Incoming | Press | None:
        return frames.incoming(frame, now) if kind == "message" else frames.press(frame, now)

    def reply_to(self, context: object | None, frame: Frame) -> object | None:
        return context if isinstance(context, Webhook) else None

    # -- out --

    async def deliver(self, item: Outgoing) -> None:
        action, robot = item.action, self.options.client_id
        if isinstance(action, Edit):
            await self.api.call("PUT", "/v1.0/im/robots/interactiveCards",
                                {"cardBizId": action.message_id, "cardData": frames.card_json(action.text, action.buttons)})
            return
        if action.buttons:
            # The item's own id: a try that went through unanswered and its retry post one card (DingTalk keys on it).
            body: dict[str, Any] = {"cardTemplateId": "StandardCard", "robotCode": robot, "cardBizId": f"rb-{item.key}",
                                    "cardData": frames.card_json(action.text, action.buttons)}
            if _is_group(action.chat_id):
                body["openConversationId"] = action.chat_id
            else:
                body["singleChatReceiver"] = json.dumps({"userId": action.chat_id})
            await self.api.call("POST", "/v1.0/im/v1.0/robot/interactiveCards/send", body)
            return
        if isinstance(item.reply, Webhook) and item.reply.valid:
            try:
                await self.api.webhook(item.reply, action.text)
                return
            except Exception as exc:  # noqa: BLE001 — the webhook went stale: the OpenAPI reaches the chat too
                log.info("DingTalk: sessionWebhook failed (%s); sending through the OpenAPI", exc)
        message = {"robotCode": robot, "msgKey": "sampleText", "msgParam": frames.text_param(action.text)}
        if _is_group(action.chat_id):
            await self.api.call("POST", "/v1.0/robot/groupMessages/send", {**message, "openConversationId": action.chat_id})
        else:
            await self.api.call("POST", "/v1.0/robot/oToMessages/batchSend", {**message, "userIds": [action.chat_id]})


def _is_group(chat_id: str) -> bool:
    """A group's openConversationId starts with cid; a private chat is the person's userid."""
    return chat_id.startswith("cid")


def options(settings: Settings) -> Options:
    assert settings.dingtalk_client_id and settings.dingtalk_client_secret
    return Options(settings.dingtalk_client_id, settings.dingtalk_client_secret.get_secret_value(),
                   settings.dingtalk_openapi_endpoint.rstrip("/"))


def build(services: Services, clock: Clock, settings: Settings) -> DingTalkTransport:
    return DingTalkTransport(services, clock, options(settings), settings.spool_path(CHANNEL))
