"""Webhook mode: Telegram POSTs each update here; HTTP 200 means "recorded", so it is sent only after.

The secret token given to setWebhook comes back in every request's
``X-Telegram-Bot-Api-Secret-Token`` header; a request without it, or with another, is refused with 403
before anything is read. An update is handled (and committed, ``handlers.delivery``) before the
answer; if handling fails the answer is 500 and Telegram delivers the update again later. Updates
are handled one at a time, in arrival order, as in polling mode.

When the database is away the request is held while it comes back (``HOLD_SECONDS`` from the
request's arrival, under Telegram's 60 s), then answered 500: Telegram delivers the update again, and
again, until it is recorded. Nothing is answered 200 that is not recorded, and nothing is skipped for
an outage; an update that fails with the database healthy is set aside as a dead letter (bot/faults.py).
``GET /healthz`` answers the bot's health as JSON (handlers/status.py): 200 healthy, 503 not.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update

from reportbot.bot.faults import Step
from reportbot.bot.polling import Trouble

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kB; Telegram's largest text is 4,096 characters
HOLD_SECONDS = 50.0  # a request held for the database at most this long; Telegram gives up on it at 60 s
Health = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


def webhook_app(
    bot: Any, path: str, secret: str, handle: Callable[[Update], Awaitable[BaseException | None]],
    trouble: Trouble, health: Health | None = None, *, hold: float = HOLD_SECONDS,
) -> web.Application:
    """The aiohttp application serving ``path``; ``handle`` returns what an update failed with (None: handled)."""
    in_order = asyncio.Lock()
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("webhook request refused: wrong or missing secret token (from %s)", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise TypeError("no update_id")
            update = Update.de_json(data, bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.warning("webhook request refused: not an update (%s)", type(exc).__name__)
            return web.Response(status=400, text="not an update")
        arrived = time.monotonic()
        if not await trouble.until_database(None, 0):  # it will wait behind the outage: its sender may be told
            trouble.waiting([update], arrived)
        async with in_order:
            return await _handle(update, arrived)

    async def _handle(update: Update, arrived: float) -> web.Response:
        while True:
            error = await handle(update)
            if error is None:
                trouble.handled(update)
                return web.Response(status=200)
            decision = await trouble.decide(update, error)
            left = hold - (time.monotonic() - arrived)
            if decision.step is Step.WAIT:
                trouble.waiting([update], arrived)
                if left <= 0 or not await trouble.until_database(None, left):
                    return web.Response(status=500, text="the database is unavailable; send it again")
            elif decision.step is Step.AGAIN:
                if left <= decision.pause:
                    return web.Response(status=500, text="try again")
                await asyncio.sleep(decision.pause)
            elif await trouble.set_aside(update, error):
                trouble.handled(update)
                return web.Response(status=200)
            else:
                return web.Response(status=500, text="try again")

    async def healthz(request: web.Request) -> web.Response:
        assert health is not None
        healthy, body = await health()
        return web.json_response(body, status=200 if healthy else 503)

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(path, receive)
    if health is not None and path != "/healthz":
        app.router.add_get("/healthz", healthz)
    return app
