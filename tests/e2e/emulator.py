"""Harness for end-to-end tests against a local Telegram Bot API emulator.

The emulator is the npm package ``telegram-test-api`` 4.2.1, started through
``tests/emulator/launch.js`` (which patches it to the real Bot API's shapes).
The bot under test is the real python-telegram-bot ``Application`` pointed at
it with ``base_url``; simulated people drive it through the emulator's *client*
HTTP API, as real users would.

Typical use::

    with Emulator() as emu:                       # or: async with Emulator() as emu
        token = new_token()
        app = emu.application_builder(token).build()
        app.add_handler(...)
        async with running_application(app):      # polling, POLL_INTERVAL
            alice = TgUser(emu, token, user_id=1001, first_name="Alice")
            await alice.say(1001, "/start")
            [reply] = await wait_for_bot_messages(emu, token, 1001)
            await alice.press(reply, buttons(reply)[0][1])

Things to know about the emulator (see launch.js for the patches):

* ``getUpdates`` ignores ``offset`` and ``timeout``: each update is handed out
  exactly once and there is no long polling, so poll with a small
  ``poll_interval`` (``POLL_INTERVAL``); PTB's default of 0 spins hot.
* The emulator keeps everything for the whole process and never resets;
  use a fresh random token (``new_token()``) per test to isolate tests.
* Unsupported methods (sendPhoto, sendDocument, setMyCommands, getChat, ...)
  answer HTTP 500, which PTB raises as ``telegram.error.NetworkError``.
  ``deleteMessage`` of a missing message answers HTTP 200 ``ok: false`` without
  ``result``, which PTB surfaces as a bare ``KeyError('result')``.
* The client ``/getUpdates`` endpoint also hands every bot message out once;
  ``wait_for_bot_messages`` keeps what it fetched but did not return in a
  per-(token, chat) inbox on the ``Emulator`` so later waits still see it.
* The emulator does not know chat types; bot messages read back from it get
  a type inferred from the chat id (>0 private, -100... supergroup, else group).
* In groups the emulator delivers every message to the bot (as if privacy mode
  were off).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Self

__all__ = [
    "EMULATOR_DIR",
    "INSTALL_HINT",
    "POLL_INTERVAL",
    "Emulator",
    "EmulatorError",
    "TgUser",
    "bot_message",
    "bot_messages",
    "button_data",
    "buttons",
    "history",
    "new_token",
    "running_application",
    "wait_for_bot_messages",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
EMULATOR_DIR = REPO_ROOT / "tests" / "emulator"
LAUNCHER = EMULATOR_DIR / "launch.js"
INSTALL_HINT = "npm ci --prefix tests/emulator"

#: poll_interval to pass to ``Updater.start_polling``: the emulator answers
#: getUpdates immediately (no long poll), and PTB's default poll_interval=0
#: would re-poll in a tight loop, burning CPU in both processes.
POLL_INTERVAL = 0.05

#: Same defaults the patched getMe answers with (see launch.js, patch 1).
BOT_FIRST_NAME = "Test First name"
BOT_USERNAME = "TestNameBot"
_DEFAULT_BOT_ID = 666

# Bot API parameters that PTB posts as JSON strings inside the form body;
# the emulator only decodes reply_markup and entities itself.
_JSON_PARAMS = ("reply_markup", "entities", "reply_parameters", "link_preview_options")


class EmulatorError(RuntimeError):
    """The emulator could not be started, or a client API call failed."""


def new_token() -> str:
    """A fresh, realistic-looking random bot token ("<bot id>:<secret>")."""
    bot_id = secrets.randbelow(9_000_000_000) + 1_000_000_000
    return f"{bot_id}:AA{secrets.token_urlsafe(24)}"


def bot_user(token: str) -> dict[str, Any]:
    """The bot's User as the patched getMe reports it for ``token``."""
    prefix = token.split(":", 1)[0]
    bot_id = int(prefix) if prefix.isdigit() and len(prefix) <= 15 else _DEFAULT_BOT_ID
    return {"id": bot_id, "is_bot": True, "first_name": BOT_FIRST_NAME, "username": BOT_USERNAME}


def chat_type_for(chat_id: int) -> str:
    """The chat type implied by a chat id (the emulator does not store types)."""
    if chat_id <= -1_000_000_000_000:
        return "supergroup"
    return "group" if chat_id < 0 else "private"


# --------------------------------------------------------------------------- emulator


class Emulator:
    """A running ``node tests/emulator/launch.js`` on a free 127.0.0.1 port.

    Usable as a sync (``with``) or async (``async with``) context manager, or via
    ``start()`` / ``stop()``. It is not bound to any event loop (subprocess via
    ``subprocess.Popen``, HTTP via plain asyncio streams per call), so one
    session-scoped instance can serve tests that each run in their own loop.
    """

    def __init__(
        self,
        *,
        node: str | None = None,
        store_timeout: int = 3600,
        startup_timeout: float = 60.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.node = node or os.environ.get("NODE") or "node"
        self.store_timeout = store_timeout
        self.startup_timeout = startup_timeout
        self.request_timeout = request_timeout
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._output: collections.deque[str] = collections.deque(maxlen=300)
        # bot messages fetched from client /getUpdates but not yet returned,
        # keyed by (token, chat_id); see wait_for_bot_messages.
        self.inbox: dict[tuple[str, int], list[dict[str, Any]]] = {}

    # ---- urls
    @property
    def url(self) -> str:
        """Root url, e.g. ``http://127.0.0.1:PORT`` (the client API lives here)."""
        if self.port is None:
            raise EmulatorError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: ``http://127.0.0.1:PORT/bot``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)`` (the emulator serves no files)."""
        return f"{self.url}/file/bot"

    def application_builder(self, token: str):  # -> telegram.ext.ApplicationBuilder
        """An ``ApplicationBuilder`` with token, base_url and base_file_url set."""
        from telegram.ext import ApplicationBuilder

        return ApplicationBuilder().token(token).base_url(self.base_url).base_file_url(self.base_file_url)

    # ---- lifecycle
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self.port is not None

    def output(self) -> str:
        """The last lines the emulator printed (stdout and stderr)."""
        return "\n".join(self._output)

    def start(self) -> Emulator:
        """Start the emulator and block until it prints ``READY <port>``."""
        if self._proc is not None:
            raise EmulatorError("emulator already started")
        if not LAUNCHER.is_file():
            raise EmulatorError(f"missing {LAUNCHER}")
        if not (EMULATOR_DIR / "node_modules" / "telegram-test-api" / "package.json").is_file():
            raise EmulatorError(
                f"telegram-test-api is not installed in {EMULATOR_DIR / 'node_modules'}; "
                f"install it with:  {INSTALL_HINT}  (from the repository root)"
            )
        if shutil.which(self.node) is None:
            raise EmulatorError(
                f"node executable {self.node!r} not found (set $NODE); the emulator needs Node.js >= 18"
            )
        cmd = [
            self.node,
            str(LAUNCHER),
            "--host",
            self.host,
            "--port",
            "0",
            "--store-timeout",
            str(self.store_timeout),
            "--watch-stdin",  # dies with us even if we are SIGKILLed
        ]
        self._proc = subprocess.Popen(
            cmd,
            cwd=EMULATOR_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_output, name="emulator-output", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.05):
            if self._proc.poll() is not None:
                self._reader.join(2)
                code = self._proc.returncode
                self._proc = None
                hint = f"\nIf telegram-test-api is missing, run:  {INSTALL_HINT}"
                raise EmulatorError(f"emulator exited with code {code} before READY:\n{self.output()}{hint}")
            if time.monotonic() > deadline:
                self.stop()
                raise EmulatorError(
                    f"emulator did not print READY within {self.startup_timeout}s:\n{self.output()}"
                )
        return self

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            self._output.append(line)
            m = re.fullmatch(r"READY (\d+)", line.strip())
            if m and not self._ready.is_set():
                self.port = int(m.group(1))
                self._ready.set()

    def stop(self) -> None:
        """Terminate the emulator (SIGTERM, then SIGKILL after 10 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(Exception):
            if proc.stdin:
                proc.stdin.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        if proc.stdout is not None:
            with contextlib.suppress(Exception):
                proc.stdout.close()
        self.port = None
        self._ready.clear()
        self.inbox.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # ---- client API
    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        """POST JSON to the emulator; returns (HTTP status, decoded JSON body)."""
        if not self.running:
            raise EmulatorError(f"the emulator is not running; its last output:\n{self.output()}")
        body = json.dumps(payload).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + body

        async def exchange() -> bytes:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(request)
                await writer.drain()
                return await reader.read()
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

        raw = await asyncio.wait_for(exchange(), self.request_timeout)
        head, _, content = raw.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        try:
            status = int(status_line.split()[1])
        except (IndexError, ValueError):
            raise EmulatorError(f"bad HTTP answer from emulator for {path}: {raw[:300]!r}") from None
        if b"transfer-encoding: chunked" in head.lower():
            content = _dechunk(content)
        try:
            return status, json.loads(content or b"null")
        except ValueError:
            raise EmulatorError(f"non-JSON answer from emulator for {path}: {raw[:300]!r}") from None

    async def call(self, path: str, payload: dict[str, Any]) -> Any:
        """POST to a client API endpoint and return its ``result`` (raise on failure)."""
        status, data = await self.post(path, payload)
        if status != 200 or not isinstance(data, dict) or not data.get("ok"):
            raise EmulatorError(f"emulator {path} failed: HTTP {status}: {data!r}")
        return data.get("result")


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)


# --------------------------------------------------------------------------- messages


def _bot_message_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """A stored bot message as a Bot API-like Message dict.

    Keeps every parameter the bot posted (parse_mode, reply_parameters, ...;
    JSON ones decoded) and adds message_id, date (seconds), chat, from.
    """
    msg = dict(item.get("message") or {})
    for key in _JSON_PARAMS:
        if isinstance(msg.get(key), str):
            with contextlib.suppress(ValueError):
                msg[key] = json.loads(msg[key])
    raw_chat = msg.get("chat_id")
    try:
        chat_id: Any = int(raw_chat)
    except (TypeError, ValueError):
        chat_id = raw_chat
    msg.update(
        {
            "message_id": item.get("messageId"),
            "date": int(item.get("time", 0)) // 1000,
            "chat_id": chat_id,
            "chat": {"id": chat_id, "type": chat_type_for(chat_id) if isinstance(chat_id, int) else "channel"},
            "from": bot_user(item.get("botToken", "")),
            "text": msg.get("text"),
            "reply_markup": msg.get("reply_markup"),
            "from_bot": True,
        }
    )
    return msg


def _describe(msg: dict[str, Any]) -> str:
    text = msg.get("text")
    text = (text[:120] + "...") if isinstance(text, str) and len(text) > 120 else text
    extra = f" buttons={buttons(msg)}" if buttons(msg) else ""
    return f"#{msg.get('message_id')} chat={msg.get('chat_id')} text={text!r}{extra}"


async def wait_for_bot_messages(
    emulator: Emulator,
    token: str,
    chat_id: int,
    count: int = 1,
    timeout: float = 15.0,
    predicate: Callable[[dict[str, Any]], bool] | None = None,
    *,
    poll_interval: float = 0.05,
) -> list[dict[str, Any]]:
    """Wait until ``count`` new bot messages (matching ``predicate``) reached ``chat_id``.

    Polls the client ``/getUpdates`` (which hands each bot message out only
    once). Messages are returned in the order sent, as Message-like dicts (see
    ``_bot_message_from_item``: ``message_id``, ``chat``, ``date`` in seconds,
    ``text``, ``reply_markup``, plus every other parameter the bot posted).
    Fetched messages that are not returned (they did not match, or exceed
    ``count``) stay in ``emulator.inbox`` and are seen by the next wait for the
    same (token, chat). Raises ``TimeoutError`` listing what did arrive.

    Note: messages are captured when sent; later edits are not reflected here
    (use ``history`` / ``bot_message`` for the current state).
    """
    chat_id = int(chat_id)
    inbox = emulator.inbox.setdefault((token, chat_id), [])
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        fresh = await emulator.call("/getUpdates", {"token": token, "chatId": chat_id})
        inbox.extend(_bot_message_from_item(item) for item in fresh or [])
        keep = []
        for msg in inbox:
            if len(got) < count and (predicate is None or predicate(msg)):
                got.append(msg)
            else:
                keep.append(msg)
        inbox[:] = keep
        if len(got) >= count:
            return got
        if time.monotonic() >= deadline:
            inbox[:0] = got  # leave everything fetched for a later wait
            lines = [f"  matched: {_describe(m)}" for m in got]
            lines += [f"  not matching: {_describe(m)}" for m in keep]
            try:
                elsewhere = [
                    m
                    for m in await bot_messages(emulator, token)
                    if m.get("chat_id") != chat_id
                ][-10:]
            except Exception as exc:  # noqa: BLE001  # pragma: no cover - diagnostics only
                elsewhere, note = [], f" (could not read history: {exc})"
            else:
                note = ""
            lines += [f"  (other chat) {_describe(m)}" for m in elsewhere]
            what = "message" if count == 1 else "messages"
            cond = " matching the predicate" if predicate is not None else ""
            raise TimeoutError(
                f"waited {timeout}s for {count} bot {what}{cond} in chat {chat_id}, "
                f"got {len(got)}{note}:\n" + ("\n".join(lines) or "  (no bot messages at all)")
            )
        await asyncio.sleep(poll_interval)


async def history(emulator: Emulator, token: str) -> list[dict[str, Any]]:
    """Everything the emulator stored for ``token`` (client ``/getUpdatesHistory``), oldest first.

    Bot messages come back in their *current* state (edits applied) as
    Message-like dicts with ``from_bot: True``. User updates are
    ``{"from_bot": False, "update_id": ..., "message": {...}}`` or
    ``{"from_bot": False, "update_id": ..., "callback_query": {...}}``.
    """
    items = await emulator.call("/getUpdatesHistory", {"token": token}) or []
    out: list[dict[str, Any]] = []
    for item in items:
        if "callbackQuery" in item:
            cq = dict(item["callbackQuery"])
            cq.pop("botToken", None)
            cq["id"] = str(item.get("callbackId"))
            out.append({"from_bot": False, "update_id": item.get("updateId"), "callback_query": cq})
        elif "chat_id" in (item.get("message") or {}):  # posted by the bot (sendMessage params)
            out.append(_bot_message_from_item(item))
        else:  # posted by a TgUser (a Message with `chat`)
            message = dict(item.get("message") or {})
            message.pop("botToken", None)
            message["message_id"] = item.get("messageId")
            out.append({"from_bot": False, "update_id": item.get("updateId"), "message": message})
    return out


async def bot_messages(emulator: Emulator, token: str, chat_id: int | None = None) -> list[dict[str, Any]]:
    """Current state (edits applied) of the bot's messages, optionally of one chat."""
    return [
        m
        for m in await history(emulator, token)
        if m.get("from_bot") and (chat_id is None or m.get("chat_id") == int(chat_id))
    ]


async def bot_message(emulator: Emulator, token: str, chat_id: int, message_id: int) -> dict[str, Any] | None:
    """Current state (edits applied) of one bot message, or None if unknown/deleted."""
    for m in await bot_messages(emulator, token, chat_id):
        if m.get("message_id") == message_id:
            return m
    return None


def buttons(msg: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The inline keyboard of a bot message as [(text, callback_data)], row by row.

    URL / other non-callback buttons give ``None`` as callback_data.
    """
    markup = msg.get("reply_markup")
    if isinstance(markup, str):
        with contextlib.suppress(ValueError):
            markup = json.loads(markup)
    if not isinstance(markup, dict):
        return []
    return [
        (str(b.get("text")), b.get("callback_data"))
        for row in markup.get("inline_keyboard") or []
        for b in row
    ]


def button_data(msg: dict[str, Any], label: str) -> str:
    """callback_data of the button labelled exactly ``label`` (else the only one containing it)."""
    btns = buttons(msg)
    exact = [d for t, d in btns if t == label]
    partial = [d for t, d in btns if label in t]
    found = exact or partial
    if len(found) != 1 or found[0] is None:
        raise LookupError(f"no unique callback button {label!r} in {_describe(msg)}")
    return found[0]


# --------------------------------------------------------------------------- users


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class TgUser:
    """A simulated Telegram user talking to the bot through the emulator."""

    def __init__(
        self,
        emulator: Emulator,
        token: str,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.token = token
        self.user_id = int(user_id)
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    @property
    def user(self) -> dict[str, Any]:
        """This person as a Bot API User dict."""
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                user[key] = getattr(self, key)
        return user

    def _chat(self, chat_id: int, chat_type: str | None, chat_title: str | None) -> dict[str, Any]:
        chat_id = int(chat_id)
        chat_type = chat_type or chat_type_for(chat_id)
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = self.first_name
            if self.last_name is not None:
                chat["last_name"] = self.last_name
            if self.username is not None:
                chat["username"] = self.username
        else:
            chat["title"] = chat_title or f"Test group {chat_id}"
        return chat

    async def say(
        self,
        chat_id: int,
        text: str,
        *,
        chat_type: str | None = None,
        chat_title: str | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> int:
        """Send ``text`` to ``chat_id``; returns the message_id the emulator assigned.

        ``chat_type`` defaults to 'private' for positive ids and to
        'supergroup'/'group' for negative ones. Text starting with '/' is sent
        via /sendCommand with a ``bot_command`` entity covering the command
        (incl. an ``@BotName`` suffix). ``reply_to``: a message dict (e.g. a bot
        message from ``wait_for_bot_messages``) this message replies to.
        """
        message: dict[str, Any] = {
            "botToken": self.token,
            "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type, chat_title),
            "from": self.user,
            "text": text,
        }
        endpoint = "/sendMessage"
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
            endpoint = "/sendCommand"
        if reply_to is not None:
            message["reply_to_message"] = self._message_ref(reply_to)
        result = await self.emulator.call(endpoint, message)
        return int(result["message_id"])

    @staticmethod
    def _message_ref(msg: dict[str, Any]) -> dict[str, Any]:
        """A Message as the Bot API embeds it (callback_query.message, reply_to_message)."""
        chat = dict(msg.get("chat") or {})
        chat_id = int(chat.get("id", msg.get("chat_id")))
        chat.setdefault("id", chat_id)
        chat.setdefault("type", chat_type_for(chat_id))
        ref: dict[str, Any] = {
            "message_id": int(msg["message_id"]),
            "date": int(msg.get("date") or time.time()),
            "chat": chat,
        }
        for key in ("from", "text", "entities", "reply_markup"):
            if msg.get(key) is not None:
                ref[key] = msg[key]
        return ref

    async def press(self, message: dict[str, Any], data: str, *, strict: bool = True) -> str:
        """Press the inline button with callback ``data`` on a bot ``message``.

        ``message`` is a dict from ``wait_for_bot_messages``/``history``. With
        ``strict`` (default) ``data`` must be one of that message's buttons, as
        a real user can only press what is shown. Returns the callback query id.
        """
        if strict:
            offered = [d for _, d in buttons(message)]
            if data not in offered:
                raise ValueError(f"message has no button with callback_data {data!r}: {_describe(message)}")
        payload = {
            "botToken": self.token,
            "from": self.user,
            "message": self._message_ref(message),
            "data": data,
        }
        result = await self.emulator.call("/sendCallback", payload)
        return str(result["id"])

    async def click(self, message: dict[str, Any], label: str) -> str:
        """Press the button labelled ``label`` (see ``button_data``)."""
        return await self.press(message, button_data(message, label))


# --------------------------------------------------------------------------- PTB


@contextlib.asynccontextmanager
async def running_application(app: Any, *, poll_interval: float = POLL_INTERVAL) -> AsyncIterator[Any]:
    """Run a PTB Application in polling mode for the duration of the block.

    ``initialize() -> start() -> updater.start_polling(poll_interval)``, then
    stops in reverse order (``updater.stop() -> stop() -> shutdown()``).
    """
    await app.initialize()
    try:
        await app.start()
        try:
            await app.updater.start_polling(poll_interval=poll_interval)
            try:
                yield app
            finally:
                if app.updater.running:
                    await app.updater.stop()
        finally:
            if app.running:
                await app.stop()
    finally:
        await app.shutdown()
