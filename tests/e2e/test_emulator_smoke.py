"""Smoke tests: the patched telegram-test-api emulator works with the real PTB 22.8 Application.

A tiny echo bot (built here, polling the emulator in-process) is driven by
simulated users through the emulator's client API.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import NetworkError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.e2e.emulator import (
    Emulator,
    TgUser,
    bot_message,
    buttons,
    new_token,
    running_application,
    wait_for_bot_messages,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e]

WAIT = 30.0  # generous: the CI machine is a loaded 2-core box
GROUP_ID = -1001234567890


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


@dataclass
class EchoBot:
    app: Application
    token: str
    updates: list[Update] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)
    answered: list[Any] = field(default_factory=list)
    edited: list[Message] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait (polling) until condition() holds; fail with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def echo_bot(emulator):
    token = new_token()  # fresh token per test: the emulator never resets
    app = emulator.application_builder(token).build()
    bot = EchoBot(app=app, token=token)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot.updates.append(update)
        bot.sent.append(await update.effective_message.reply_text("welcome"))

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot.updates.append(update)
        text = update.effective_message.text
        markup = None
        if text == "menu":
            markup = InlineKeyboardMarkup(
                [[InlineKeyboardButton("Ping", callback_data="ping"), InlineKeyboardButton("Pong", callback_data="pong")]]
            )
        bot.sent.append(await update.effective_message.reply_text(f"echo: {text}", reply_markup=markup))

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot.updates.append(update)
        query = update.callback_query
        bot.answered.append(await query.answer(f"got {query.data}"))
        bot.edited.append(await query.edit_message_text(f"pressed {query.data}"))

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot.errors.append(context.error)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_error_handler(on_error)

    async with running_application(app):
        yield bot
    assert bot.errors == [], f"handler errors: {bot.errors!r}"


async def test_get_me_is_patched(echo_bot: EchoBot):
    me = echo_bot.app.bot.bot
    assert me.is_bot is True
    assert me.username == "TestNameBot"
    assert me.id == int(echo_bot.token.split(":")[0])


async def test_private_message_gets_reply(emulator: Emulator, echo_bot: EchoBot):
    alice = TgUser(emulator, echo_bot.token, user_id=1001, first_name="Alice")

    msg_id = await alice.say(1001, "/start")
    [welcome] = await wait_for_bot_messages(emulator, echo_bot.token, 1001, timeout=WAIT)
    assert welcome["text"] == "welcome"

    await alice.say(1001, "hello there")
    [reply] = await wait_for_bot_messages(emulator, echo_bot.token, 1001, timeout=WAIT)
    assert reply["text"] == "echo: hello there"
    assert reply["chat"] == {"id": 1001, "type": "private"}

    start_update = echo_bot.updates[0]
    assert start_update.effective_message.message_id == msg_id
    assert start_update.effective_user.id == 1001
    assert start_update.effective_user.first_name == "Alice"
    assert start_update.effective_chat.type == "private"
    # sendMessage results parse into a Message with a sane date (patch 2)
    now = dtm.datetime.now(dtm.UTC)
    for sent in echo_bot.sent:
        assert abs((sent.date - now).total_seconds()) < 600
        assert sent.chat.id == 1001


async def test_group_message_gets_reply_in_group(emulator: Emulator, echo_bot: EchoBot):
    bob = TgUser(emulator, echo_bot.token, user_id=2002, first_name="Bob")

    await bob.say(GROUP_ID, "hi group", chat_type="supergroup", chat_title="Sales office")
    [reply] = await wait_for_bot_messages(emulator, echo_bot.token, GROUP_ID, timeout=WAIT)
    assert reply["text"] == "echo: hi group"
    assert reply["chat"]["id"] == GROUP_ID

    [update] = echo_bot.updates
    assert update.effective_chat.id == GROUP_ID
    assert update.effective_chat.type == "supergroup"
    assert update.effective_chat.title == "Sales office"
    assert update.effective_user.id == 2002
    assert echo_bot.sent[0].chat.id == GROUP_ID


async def test_inline_button_press_answers_and_edits(emulator: Emulator, echo_bot: EchoBot):
    carol = TgUser(emulator, echo_bot.token, user_id=3003, first_name="Carol")

    await carol.say(3003, "menu")
    [card] = await wait_for_bot_messages(emulator, echo_bot.token, 3003, timeout=WAIT)
    assert buttons(card) == [("Ping", "ping"), ("Pong", "pong")]

    await carol.press(card, "pong")
    await until(lambda: echo_bot.edited or echo_bot.errors, "the callback handler to edit the card")
    assert echo_bot.errors == []

    query_update = echo_bot.updates[-1]
    assert query_update.callback_query is not None
    assert query_update.callback_query.data == "pong"
    assert query_update.callback_query.from_user.id == 3003
    assert query_update.callback_query.chat_instance  # patch 3
    assert query_update.callback_query.message.message_id == card["message_id"]
    assert len(echo_bot.answered) == 1  # answer_callback_query did not raise

    [edited] = echo_bot.edited  # patch 4: the edit result parses into a Message
    assert isinstance(edited, Message)
    assert edited.message_id == card["message_id"]
    assert edited.text == "pressed pong"

    current = await bot_message(emulator, echo_bot.token, 3003, card["message_id"])
    assert current is not None
    assert current["text"] == "pressed pong"
    assert buttons(current) == []  # editMessageText without reply_markup drops the keyboard


async def test_unsupported_method_fails_without_killing_the_app(emulator: Emulator, echo_bot: EchoBot):
    dave = TgUser(emulator, echo_bot.token, user_id=4004, first_name="Dave")

    # setMyCommands is not implemented by the emulator: HTTP 500 -> NetworkError.
    with pytest.raises(NetworkError):
        await echo_bot.app.bot.set_my_commands([("start", "Start the bot")])

    await dave.say(4004, "still there?")
    [reply] = await wait_for_bot_messages(emulator, echo_bot.token, 4004, timeout=WAIT)
    assert reply["text"] == "echo: still there?"
    assert echo_bot.app.running and echo_bot.app.updater.running
