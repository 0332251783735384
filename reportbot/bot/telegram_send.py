"""Talking to the Bot API: the HTTP client, and sending one action at a time — retried while Telegram is
unreachable, given up when refused."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeAlias

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder

from reportbot.bot.bot_api_http import AiohttpRequest
from reportbot.bot.polling import retry_seconds
from reportbot.handlers.messages import Action, Alert, Delete, Edit, Keyboard, Send, SendDocument, SendPhoto

log = logging.getLogger("reportbot.bot.telegram")
MAX_SEND_BACKOFF_SECONDS = 60.0
CAPTION_MAX = 1024  # Telegram's limit for a photo's or a document's caption
# PTB's Application and its builder take six type parameters (bot, context, user/chat/bot data, job queue):
# the defaults are what the bot runs with, and nothing here depends on them.
App: TypeAlias = Application[Any, Any, Any, Any, Any, Any]
Builder: TypeAlias = ApplicationBuilder[Any, Any, Any, Any, Any, Any]
SEND_CONNECTIONS = 8  # connections to the Bot API, and requests in flight at once (bot_api_http)
GET_UPDATES_CONNECTIONS = 1  # getUpdates: one long poll at a time, on a connection of its own


def transient(exc: TelegramError) -> bool:
    """A failure worth trying again: the network, a timeout, or a broken answer — not a refusal."""
    return isinstance(exc, TimedOut) or type(exc) in (NetworkError, TelegramError)


def markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons]
    )


def with_bot_api_client(builder: Builder) -> Builder:
    """The builder, talking to the Bot API through bot/bot_api_http.py (aiohttp) for every call."""
    return builder.request(AiohttpRequest(SEND_CONNECTIONS)).get_updates_request(
        AiohttpRequest(GET_UPDATES_CONNECTIONS)
    )


class TelegramSending:
    """The transport's sending half; ``application`` is the running PTB application."""

    application: App | None

    async def _deliver(self, action: Action) -> None:
        """Send one action; while Telegram is unreachable or answers garbage, keep trying this chat's
        queue (other chats go on); a refusal (bad request, blocked, no rights) is final at once."""
        if isinstance(action, Alert):  # an alert answers a press at once (on_press); it is never queued
            return
        delay = 1.0
        while True:
            try:
                return await self._send_once(action)
            except RetryAfter as exc:  # the rate limiter's own retries ran out: wait as told
                wait = retry_seconds(exc)
                log.warning("Telegram asks chat %s to wait %.0f s", action.chat_id, wait)
                await asyncio.sleep(wait)
                continue
            except TelegramError as exc:
                if not transient(exc):
                    raise
                log.warning("sending to chat %s failed (%s); trying again in %.0f s", action.chat_id, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_SEND_BACKOFF_SECONDS)

    async def _send_once(self, action: Action) -> None:
        assert self.application is not None
        bot = self.application.bot
        match action:
            case Send(chat_id, text, buttons, _):
                await bot.send_message(chat_id, text, reply_markup=markup(buttons))
            case Edit(chat_id, message_id, text, buttons):
                await bot.edit_message_text(
                    text, chat_id=chat_id, message_id=int(message_id), reply_markup=markup(buttons)
                )
            case SendPhoto(chat_id, _, caption, filename, _):
                png = await action.png()
                if png is not None:
                    await bot.send_photo(chat_id, png, caption=caption[:CAPTION_MAX] or None, filename=filename)
            case SendDocument(chat_id, _, filename, caption, _):
                data = await action.data()
                if data is not None:
                    await bot.send_document(chat_id, data, filename=filename, caption=caption[:CAPTION_MAX] or None)
            case Delete(chat_id, message_id):
                try:
                    await bot.delete_message(chat_id, int(message_id))
                except TelegramError as exc:  # no right to delete here: the notice still explains
                    log.info("could not delete message %s in %s: %s", message_id, chat_id, exc)
