"""The WeCom long connection, kept up: the official SDK connects, we watch it and bring it back.

The SDK (wecom-aibot-python-sdk 1.0.2) reconnects only when its receive loop sees an error. After a
*clean* close by the server (close code 1000 or 1001, as a server restart sends) the websockets
iterator just ends, nothing is scheduled, and ``WSClient.connect()`` then refuses ("Client already
connected"): the bot would stay deaf. So the SDK's own reconnecting is switched off and this link
owns the lifecycle: a fresh ``WSClient`` per connection, watched until it ends for any reason
(clean close, abrupt drop, failed authentication, heartbeat lost, ``disconnected_event`` when
another connection took over), then a new one after an exponential back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibot import WSClient, WSClientOptions

log = logging.getLogger(__name__)
sdk_log = logging.getLogger("aibot")

FrameHandler = Callable[[WSClient, dict[str, Any]], None]


@dataclass(frozen=True)
class LinkOptions:
    bot_id: str
    secret: str
    ws_url: str
    ca_file: Path | None = None
    backoff_first: float = 1.0
    backoff_max: float = 60.0
    auth_timeout: float = 10.0
    watch_every: float = 0.5  # how often the connection's state is looked at (a clean close raises nothing)


class _SdkLogger:
    """The SDK's Logger protocol (debug/info/warn/error) onto the logging module."""

    def debug(self, message: str, *args: Any) -> None:
        sdk_log.debug(message)

    def info(self, message: str, *args: Any) -> None:
        sdk_log.info(message)

    def warn(self, message: str, *args: Any) -> None:
        sdk_log.warning(message)

    def error(self, message: str, *args: Any) -> None:
        # With its reconnecting switched off the SDK reports "giving up" after every lost connection.
        (sdk_log.debug if "Max reconnect attempts" in message else sdk_log.error)(message)


def trust_extra_cas(ca_file: Path) -> None:
    """Add certificate authorities to the SDK's TLS context (it builds one from certifi and offers no option).

    This is what an office behind a TLS-inspecting proxy needs, and what the tests use for their own CA.
    """
    import aibot.ws as sdk_ws

    sdk_ws._SSL_CONTEXT.load_verify_locations(cafile=str(ca_file))


class WeComLink:
    """One authenticated connection at a time; ``client`` is it (None while there is none)."""

    def __init__(self, options: LinkOptions, on_message: FrameHandler, on_event: FrameHandler) -> None:
        self.options = options
        self.on_message = on_message
        self.on_event = on_event
        self.client: WSClient | None = None
        self.connections = 0  # authenticated connections so far
        self._ready = asyncio.Event()
        if options.ca_file is not None:
            trust_extra_cas(options.ca_file)

    async def ready(self) -> WSClient:
        """Wait until a connection is up; the client of it."""
        while True:
            await self._ready.wait()
            if self.client is not None:
                return self.client

    def _new_client(self) -> WSClient:
        o = self.options
        client = WSClient(WSClientOptions(
            bot_id=o.bot_id, secret=o.secret, ws_url=o.ws_url, max_reconnect_attempts=0, logger=_SdkLogger(),
        ))
        client.on("message", lambda frame: self.on_message(client, frame))
        client.on("event", lambda frame: self.on_event(client, frame))
        return client

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, watch, reconnect with back-off, until ``stop`` is set."""
        delay = self.options.backoff_first
        while not stop.is_set():
            client = self._new_client()
            authenticated, ended = asyncio.Event(), asyncio.Event()
            client.on("authenticated", authenticated.set)
            client.on("disconnected", lambda _reason, done=ended: done.set())
            # another connection took over
            client.on("event.disconnected_event", lambda _frame, done=ended: done.set())
            client.on("error", lambda error: None)  # logged by the SDK; the watch below decides
            try:
                await client.connect()
                if await self._until(authenticated.is_set, client, ended, stop, self.options.auth_timeout):
                    self.connections += 1
                    self.client = client
                    self._ready.set()
                    delay = self.options.backoff_first
                    log.info("WeCom: connected and authenticated (%s)", self.options.ws_url)
                    await self._until(lambda: False, client, ended, stop, None)
            except Exception:  # whatever broke this connection, the next one is tried
                log.exception("WeCom: the connection failed")
            finally:
                self._ready.clear()
                self.client = None
                client.disconnect()
            if stop.is_set():
                break
            log.warning("WeCom: connection lost; connecting again in %.1f s", delay)
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.options.backoff_max)

    async def _until(
        self, done: Callable[[], bool], client: WSClient, ended: asyncio.Event, stop: asyncio.Event,
        timeout: float | None,
    ) -> bool:
        """Wait for ``done``; False as soon as the connection is gone, the bot stops, or time runs out."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not done():
            if ended.is_set() or stop.is_set() or not client.is_connected:
                return False
            if deadline is not None and loop.time() >= deadline:
                return False
            await asyncio.sleep(min(0.05, self.options.watch_every) if deadline else self.options.watch_every)
        return True
