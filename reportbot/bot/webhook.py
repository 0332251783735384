"""Webhook mode: Telegram POSTs each update here; HTTP 200 means "recorded", so it is sent only after.

The secret token given to setWebhook comes back in every request's
``X-Telegram-Bot-Api-Secret-Token`` header; a request without it, or with another, is refused with 403
before anything is read. An update is handled (and committed, ``handlers.delivery``) before the
answer; if handling fails the answer is 500 and Telegram delivers the update again later. Updates
are handled one at a time, in arrival order, as in polling mode.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from telegram import Update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024  # an update is a few kB; Telegram's largest text is 4,096 characters


def webhook_app(bot: Any, path: str, secret: str, handle: Callable[[Update], Awaitable[bool]]) -> web.Application:
    """The aiohttp application serving ``path``; ``handle`` returns False when the update could not be handled."""
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
        async with in_order:
            handled = await handle(update)
        return web.Response(status=200) if handled else web.Response(status=500, text="try again")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(path, receive)
    return app
