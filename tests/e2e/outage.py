"""What the outage tests share: an office, the real `reportbot run` as a child process, Telegram's sides.

The bot is the real command, never restarted during a test; the database goes away under it (a
PostgreSQL of the test's own stopped, tests/fakes/pg_cluster.py, or another process holding SQLite's
write lock). Telegram is tests/e2e/fake_bot_api.py, which hands unconfirmed updates out again as
Telegram does; in webhook mode ``WebhookTelegram`` posts them as Telegram does: the updates of one chat
in order, each again until it is answered 200, different chats at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from aiohttp import ClientSession, ClientTimeout
from sqlalchemy import func, select

from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from reportbot.storage.tables import ReportRow
from reportbot.storage.transport_tables import DeliveryRow
from tests.e2e.fake_bot_api import FakeBotApi, Sent
from tests.fakes.pg_cluster import OwnPostgres

PROJECT = "江湾壹号"
GROUP = -1005550001
ASSISTANT = (40999, "孙助理")
ADMIN = (40900, "管理员")
CANVASSERS = [(41001 + i, name, team) for i, (name, team) in
              enumerate([("赵一", "甲队"), ("钱二", "乙队"), ("孙三", "甲队"), ("李四", "乙队"), ("周五", "甲队"),
                         ("吴六", "乙队")])]
RECEIPT = re.compile(r"回执号：BB-\d{8}-(\d{4})")
PHONE = re.compile(r"\d{3}\*\*\*\d{5}")
WAITING = "系统恢复后按收到的先后顺序处理"


def report(n: int) -> tuple[int, str, str, str]:
    """The n-th report of a burst: (canvasser id, name, text, masked phone); a customer of its own each."""
    user, name, team = CANVASSERS[n % len(CANVASSERS)]
    phone = f"139***{70000 + n:05d}"
    return user, name, f"报备\n客户：客户{chr(0x4E00 + n)}\n电话：{phone}\n队名：{team}\n拓客：{name}\n到访：明天下午3点", phone


async def register(url: str) -> None:
    """A migrated ledger with the project, its group, an assistant, an admin and the canvassers."""
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    now = datetime.now(UTC)
    await directory.add_project(db, PROJECT, str(GROUP), None, now)
    await directory.add_staff(db, NewStaff(ASSISTANT[1], "案场", "assistant", str(ASSISTANT[0]), project=PROJECT), now)
    await directory.add_staff(db, NewStaff(ADMIN[1], "后台", "admin", str(ADMIN[0]), project=PROJECT), now)
    for user, name, team in CANVASSERS:
        await directory.add_staff(db, NewStaff(name, team, "canvasser", str(user), project=PROJECT), now)
    await db.dispose()


async def stored(url: str) -> tuple[dict[str, str], int]:
    """phone → receipt number of every stored report, and how many deliveries were recorded."""
    db = Database(url)
    try:
        async with db.uow(write=False) as uow:
            rows = (await uow.session.execute(select(ReportRow.phone, ReportRow.receipt_no))).all()
            deliveries = (await uow.session.execute(select(func.count()).select_from(DeliveryRow))).scalar_one()
    finally:
        await db.dispose()
    assert len(rows) == len({phone for phone, _ in rows}), "a customer stored twice"
    return {phone: receipt for phone, receipt in rows}, int(deliveries)


def quiet_policy(folder: Path) -> Path:
    """No digest or reminder may come between the answers of a test run at the real time of day."""
    policy = folder / "policy.toml"
    policy.write_text('digest_time = "23:59:59"\nweekly_digest = false\nquiet_start = "00:00"\nquiet_end = "00:00"\n',
                      encoding="utf-8")
    return policy


@dataclass
class BotProcess:
    """`reportbot run` as a child process; ``output()`` is what it logged."""

    env: dict[str, str]
    folder: Path
    args: tuple[str, ...] = ("run",)
    process: asyncio.subprocess.Process | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / f"bot-{uuid.uuid4().hex[:6]}.log"

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "reportbot.bot.cli", *self.args, env=self.env, cwd=self.folder,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self) -> None:
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"reportbot run did not stop on SIGTERM:\n{self.output()[-3000:]}") from None

    async def kill(self) -> None:
        """SIGKILL: for a run whose results are in (a clean stop waits up to 30 s for queued group cards)."""
        if self.alive:
            assert self.process is not None
            self.process.kill()
            await self.process.wait()

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""


def bot_env(api: FakeBotApi, url: str, folder: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_POLL_INTERVAL": "0.02",
        "DATABASE_URL": url,
        "DATA_DIR": str(folder / "data"),
        "LOG_LEVEL": "INFO",
        "REPORTBOT_POLICY": str(quiet_policy(folder)),
        "WECOM_BOT_ID": "",
        **extra,
    }


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str,
                bot: BotProcess | Path | None = None, every: float = 0.1) -> None:
    """Until ``condition`` holds; else fail, showing the end of the bot's log (a BotProcess or a log file)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        done = condition()
        if done if isinstance(done, bool) else await done:
            return
        if asyncio.get_running_loop().time() > deadline:
            log = bot.output() if isinstance(bot, BotProcess) else bot.read_text() if bot is not None else ""
            raise AssertionError(f"timed out waiting for {what}\nbot log:\n{log[-5000:]}")
        await asyncio.sleep(every)


def stopped(pg: OwnPostgres) -> Callable[[], Awaitable[None]]:
    async def stop() -> None:
        await asyncio.to_thread(pg.stop)

    return stop


def started(pg: OwnPostgres) -> Callable[[], Awaitable[None]]:
    async def start() -> None:
        await asyncio.to_thread(pg.start)

    return start


async def three_waves(
    send: Callable[[int], Awaitable[None]], away: Callable[[], Awaitable[None]], back: Callable[[], Awaitable[None]],
    *, per_wave: int, outage: float, meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Reports 1 … per_wave-1 (0 went before, for a card to press), then the database goes ``away`` in the
    middle of the burst; ``meanwhile`` and a wave of reports over half the outage; ``back``; a last wave."""
    for n in range(1, per_wave):
        await send(n)
    await away()
    if meanwhile is not None:
        await meanwhile()
    for n in range(per_wave, 2 * per_wave):
        await send(n)
        await asyncio.sleep(outage / per_wave / 2)
    await asyncio.sleep(outage / 2)
    await back()
    for n in range(2 * per_wave, 3 * per_wave):
        await send(n)


def receipts(api: FakeBotApi) -> dict[str, list[str]]:
    """masked phone → the receipt numbers sent to canvassers for it (each message once)."""
    found: dict[str, list[str]] = {}
    for sent in api.sent:
        if sent.method == "sendMessage" and sent.chat_id > 0 and sent.text and (match := RECEIPT.search(sent.text)):
            phone = PHONE.search(sent.text)
            assert phone is not None
            found.setdefault(phone[0], []).append(match[1])
    return found


def notices(api: FakeBotApi, chat_id: int) -> list[Sent]:
    return [s for s in api.messages_to(chat_id) if s.text and WAITING in s.text]


def assert_in_order(sent_phones: list[str], stored_receipts: dict[str, str]) -> None:
    """First come, first served: the receipt numbers rise in the order the reports were sent."""
    numbers = [stored_receipts[phone] for phone in sent_phones]
    assert numbers == sorted(numbers), list(zip(sent_phones, numbers, strict=True))


class WebhookTelegram:
    """Telegram's webhook side: each chat's updates in order, each POSTed again until answered 200."""

    def __init__(self, url: str, secret: str, retry_after: float = 1.0) -> None:
        self.url = url
        self.secret = secret
        self.retry_after = retry_after
        self.answers: list[tuple[int, int, float]] = []  # (update_id, HTTP status, seconds) of every attempt
        self._queues: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._session: ClientSession | None = None
        self.pending = 0

    async def __aenter__(self) -> Self:
        self._session = ClientSession(timeout=ClientTimeout(total=65))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        assert self._session is not None
        await self._session.close()

    def post(self, update: dict[str, Any]) -> None:
        chat = (update.get("message") or update["callback_query"]["message"])["chat"]["id"]
        queue = self._queues.get(chat)
        if queue is None:
            queue = self._queues[chat] = asyncio.Queue()
            self._workers.append(asyncio.create_task(self._deliver(queue)))
        self.pending += 1
        queue.put_nowait(update)

    async def _deliver(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        assert self._session is not None
        while True:
            update = await queue.get()
            while True:
                started = asyncio.get_running_loop().time()
                try:
                    async with self._session.post(self.url, json=update,
                                                  headers={"X-Telegram-Bot-Api-Secret-Token": self.secret}) as answer:
                        status = answer.status
                except Exception:  # noqa: BLE001 — the bot not listening (yet): Telegram tries again
                    status = 0
                self.answers.append((update["update_id"], status, asyncio.get_running_loop().time() - started))
                if status == 200:
                    break
                await asyncio.sleep(self.retry_after)
            self.pending -= 1
