"""The console transport: the same bot in a terminal, driven by the script language of SPEC §11.

    @101 报备 客户：张先生 …         user 101 writes to the bot in a private chat
    #-1001234 @101 报备 …            user 101 writes in group chat -1001234
    !tap @102 确认                    user 102 presses the newest button labelled 确认
    !clock 2026-11-23 10:00           set the simulated local time; expiry and reminders due by then run

A line that meets a database outage waits for the database and is then carried out: no line is skipped
(bot/faults.py). One that fails with the database healthy is reported, nothing of it recorded, and the
script goes on.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from reportbot.bot.faults import ATTEMPTS
from reportbot.handlers.context import Services
from reportbot.handlers.deadletters import describe_error
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import (
    Action,
    Alert,
    Delete,
    Edit,
    Incoming,
    Keyboard,
    Press,
    Send,
    SendDocument,
    SendPhoto,
)
from reportbot.handlers.router import handle_message
from reportbot.handlers.sweep import sweep
from reportbot.rules import privacy
from reportbot.scheduler.clock import ManualClock
from reportbot.storage.health import Verdict, describe

CHANNEL = "console"
_MESSAGE = re.compile(r"^(?:#(?P<chat>-?\w+)\s+)?@(?P<user>[\w.@-]+)\s+(?P<text>.+)$", re.DOTALL)
_TAP = re.compile(r"^!tap\s+@(?P<user>[\w.@-]+)\s+(?P<label>.+)$")
_CLOCK = re.compile(r"^!clock\s+(?P<when>\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2})$")

HELP = """脚本语言（每行一个事件）：
  @101 报备 客户：张先生 电话：138***88888 队名：飞虎队 拓客：李四 到访：明天下午3点
  #-1001234 @101 报备 …        （在群 -1001234 里发言）
  !tap @102 确认                （102 按下最新一条带“确认”按钮的消息）
  !clock 2026-11-23 10:00       （设定模拟时间）
  !help  !quit
机器人发出的图片、文件显示为 [图片]/[文件] 文件名（大小）；reportbot console --files 目录 可把它们存下来。"""


@dataclass
class _BotMessage:
    chat_id: str
    message_id: str
    buttons: Keyboard


@dataclass
class Console:
    """Runs script lines against the handlers and prints what the bot does."""

    services: Services
    clock: ManualClock
    out: TextIO = sys.stdout
    default_user: str | None = None
    files_dir: Path | None = None  # photos and documents the bot sends are saved here (console --files)
    _next_id: int = 1
    _bot_messages: list[_BotMessage] = field(default_factory=list)

    def _message_id(self) -> str:
        self._next_id += 1
        return str(self._next_id - 1)

    async def run_line(self, line: str) -> bool:
        """Carry out one script line; False when the script asks to stop."""
        line = line.strip()
        if not line or line.startswith("# ") or line == "#":
            return True
        if line in ("!quit", "!exit"):
            return False
        if line == "!help":
            self._print(HELP)
            return True
        if match := _CLOCK.match(line):
            when = datetime.fromisoformat(match["when"].replace("T", " ")).replace(tzinfo=self.services.tz)
            self.clock.set(when)
            await self._show(await sweep(self.services, self.clock.now(), CHANNEL))
            return True
        if match := _TAP.match(line):
            await self._tap(match["user"], match["label"].strip())
            return True
        match = _MESSAGE.match(line)
        if match is None and self.default_user and not line.startswith(("!", "@", "#")):
            match = _MESSAGE.match(f"@{self.default_user} {line}")
        if match is None:
            self._print(f"?? 看不懂这一行（!help 查看脚本语言）：{line}")
            return True
        chat = match["chat"] or match["user"]
        incoming = Incoming(
            channel=CHANNEL,
            sender_id=match["user"],
            chat_id=chat,
            is_group=match["chat"] is not None,
            text=_unescape(match["text"]),
            now=self.clock.now(),
            message_id=self._message_id(),
        )
        await self._show(await handle_message(incoming, self.services))
        return True

    async def _tap(self, user: str, label: str) -> None:
        for message in reversed(self._bot_messages):
            for row in message.buttons:
                for button in row:
                    if button.label == label:
                        press = Press(CHANNEL, user, message.chat_id, message.message_id, button.data, self.clock.now())
                        actions = await handle_press(press, self.services)
                        await self._show(actions, presser=user)
                        return
        self._print(f"?? 没有带“{label}”按钮的消息")

    async def _show(self, actions: list[Action], presser: str | None = None) -> None:
        for action in actions:
            match action:
                case Send(chat_id, text, buttons, _):
                    message_id = self._message_id()
                    if buttons:
                        self._bot_messages.append(_BotMessage(chat_id, message_id, buttons))
                    self._print_message("->", chat_id, text, buttons)
                case Edit(chat_id, message_id, text, buttons):
                    for message in self._bot_messages:
                        if message.chat_id == chat_id and message.message_id == message_id:
                            message.buttons = buttons
                    self._print_message("~>", chat_id, text, buttons)
                case SendPhoto(chat_id, _, caption, filename, _):
                    png = await action.png()
                    if png is None:
                        continue
                    self._message_id()
                    self._print_message("->", chat_id, f"[图片] {self._file(filename, png)}\n{caption}".rstrip(), ())
                case SendDocument(chat_id, _, filename, caption, _):
                    data = await action.data()
                    if data is None:
                        continue
                    self._message_id()
                    self._print_message("->", chat_id, f"[文件] {self._file(filename, data)}\n{caption}".rstrip(), ())
                case Delete(chat_id, message_id):
                    self._print(f"x> {chat_id}: (已删除消息 #{message_id})")
                case Alert(text) if text and presser:
                    self._print(f"!> {presser}: {text}")

    def _file(self, filename: str, data: bytes) -> str:
        """'stats-20261123-20261123.png（37.2 KB）', saved under ``files_dir`` when one is given."""
        shown = f"{filename}（{len(data) / 1024:.1f} KB）"
        if self.files_dir is None:
            return shown
        self.files_dir.mkdir(parents=True, exist_ok=True)
        (self.files_dir / filename).write_bytes(data)
        return f"{shown} 已保存到 {self.files_dir / filename}"

    def _print_message(self, arrow: str, chat_id: str, text: str, buttons: Keyboard) -> None:
        first, *rest = text.splitlines() or [""]
        lines = [f"{arrow} {chat_id}: {first}"] + [f"  {line}" for line in rest]
        if buttons:
            lines.append("  " + " ".join(f"[{b.label}]" for row in buttons for b in row))
        self._print("\n".join(lines))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def say(self, text: str) -> None:
        """A line from the console itself, not from the bot: '!! …'."""
        self._print("\n".join(f"!! {line}" for line in text.splitlines()))


def _unescape(text: str) -> str:
    """A script line is one line: `\\n` inside it stands for a line break of a multi-line message."""
    return text.replace("\\n", "\n")


async def run_console(
    services: Services, clock: ManualClock, source: TextIO, out: TextIO, *, echo: bool, prompt: Callable[[], None] | None = None, default_user: str | None = None,
    files_dir: Path | None = None,
) -> None:
    console = Console(services, clock, out, default_user, files_dir)
    while True:
        if prompt:
            prompt()
        line = source.readline()
        if not line:
            break
        if echo and line.strip():  # a transcript is kept and shared: no whole number in it either
            shown = privacy.mask_full_numbers(line.rstrip(), services.policy.mask_suffix_digits)
            print(f"<< {shown}", file=out, flush=True)
        if not await _run_through_faults(console, line):
            break


async def _run_through_faults(console: Console, line: str) -> bool:
    """``run_line``, waiting out a database outage (the line is not skipped) and trying a dropped connection
    again; a line that fails with the database healthy is reported and the script goes on."""
    watch = console.services.db.watch
    told = False
    for _ in range(ATTEMPTS):
        try:
            return await console.run_line(line)
        except Exception as exc:  # noqa: BLE001 — judged by the watch: wait, try again, or report it
            verdict = await watch.classify(exc)
            if verdict is Verdict.FAILURE:
                console.say(console.services.render("console_failed.j2", error=describe_error(console.services, exc)))
                return True
            if verdict is Verdict.OUTAGE:
                if not told:
                    console.say(console.services.render("console_waiting.j2", database=describe(watch.db.url)))
                    told = True
                await watch.wait_until_up()
    return True
