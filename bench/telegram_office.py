"""The simulated office of the Telegram benches: projects with a group each, canvassers, and the people
who write to the bot through telegram-test-api's client API and collect its answers.

Each run gets a fresh copy of one registered database (``Databases``), so that every run starts alike.
Arrival times are the emulator's own timestamps of the bot's messages, so how often the people poll for
them changes nothing in the figures, only when a run is seen to be over.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from tests.e2e.emulator import Emulator

REPORT = "报备 客户：张先生 电话：138***{n:05d} 队名：{team} 拓客：{name} 到访：明天下午3点"
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许"
GIVEN = "伟芳娜敏静丽强磊军洋"
TEAMS = ("飞虎队", "猛虎队", "雄鹰队", "猎豹队", "战狼队")


@dataclass(frozen=True)
class Person:
    """A registered canvasser: Telegram id (= private chat), name, team and the project's group."""

    user_id: int
    name: str
    team: str
    group: int


@dataclass(frozen=True)
class Office:
    """Projects (one group chat each) and their canvassers, spread evenly."""

    people: tuple[Person, ...]

    @classmethod
    def of(cls, projects: int, canvassers: int) -> Office:
        people = (
            Person(
                7000 + n,
                SURNAMES[n % 20] + GIVEN[n // 20] + "生",
                TEAMS[n % projects],
                -1009000000000 - n % projects,
            )
            for n in range(canvassers)
        )
        return cls(tuple(people))

    @property
    def groups(self) -> list[int]:
        return sorted({p.group for p in self.people})

    def report(self, n: int) -> tuple[Person, str]:
        """Report n (a distinct phone) from canvasser n mod the number of canvassers."""
        person = self.people[n % len(self.people)]
        return person, REPORT.format(n=n, team=person.team, name=person.name)

    async def register(self, url: str) -> None:
        """Migrate the database at url and register the projects and canvassers."""
        await asyncio.to_thread(upgrade, url)
        db, now = Database(url), datetime.now().astimezone()
        try:
            for group in self.groups:
                await directory.add_project(db, f"楼盘{group}", str(group), None, now)
            staff = [
                NewStaff(p.name, p.team, "canvasser", str(p.user_id), project=f"楼盘{p.group}")
                for p in self.people
            ]
            await directory.import_staff(db, list(enumerate(staff, start=2)), now)
        finally:
            await db.dispose()


class Databases:
    """One registered office per run, copied from a template so that every run starts alike."""

    def __init__(self, office: Office, root: Path) -> None:
        self.office, self.root, self._template, self._runs = office, root, root / "template.db", 0

    async def fresh(self) -> str:
        """The URL of a new copy of the registered template database."""
        if not self._template.exists():
            await self.office.register(_url(self._template))
        self._runs += 1
        copy = self.root / f"run{self._runs}.db"
        shutil.copyfile(self._template, copy)
        return _url(copy)


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@dataclass
class Arrivals:
    """Bot messages seen at the emulator: chat id → [(emulator arrival time in s, text)]."""

    by_chat: dict[int, list[tuple[float, str]]] = field(default_factory=dict)

    def add(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            message = item["message"]
            self.by_chat.setdefault(int(message["chat_id"]), []).append(
                (item["time"] / 1000, message["text"])
            )

    def count(self, chats: Sequence[int]) -> int:
        return sum(len(self.by_chat.get(c, ())) for c in chats)

    def all(self, chats: Sequence[int]) -> list[tuple[float, str]]:
        return [m for c in chats for m in self.by_chat.get(c, ())]


class People:
    """The simulated people: they write through the emulator's client API and collect the bot's answers."""

    def __init__(self, emulator: Emulator, token: str) -> None:
        self.token = token
        self.url = emulator.url
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=64), timeout=aiohttp.ClientTimeout(60)
        )
        self.arrivals = Arrivals()

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST JSON to the emulator's client API; its answer's result."""
        async with self.http.post(self.url + path, json=payload) as answer:
            answer.raise_for_status()
            return (await answer.json())["result"]

    async def say(self, user_id: int, chat_id: int, text: str) -> float:
        """Send text from user_id into chat_id; returns the wall time just before sending."""
        sender = {"id": user_id, "is_bot": False, "first_name": str(user_id)}
        chat = (
            {"id": chat_id, "type": "private", "first_name": str(user_id)}
            if chat_id > 0
            else {"id": chat_id, "type": "supergroup", "title": str(chat_id)}
        )
        message: dict[str, Any] = {
            "botToken": self.token,
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }
        endpoint = "/sendMessage"
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            endpoint = "/sendCommand"
        sent = time.time()
        await self.post(endpoint, message)
        return sent

    async def collect(self, chats: Sequence[int]) -> None:
        """Fetch the bot messages not seen yet in these chats."""

        batches = [self.post("/getUpdates", {"token": self.token, "chatId": chat}) for chat in chats]
        for items in await asyncio.gather(*batches):
            self.arrivals.add(items)

    async def wait(self, chats: Sequence[int], count: int, timeout: float, every: float = 1.0) -> Arrivals:
        """Poll until count bot messages have arrived in these chats (or timeout: fewer)."""
        deadline = time.monotonic() + timeout
        while True:
            await self.collect(chats)
            if self.arrivals.count(chats) >= count or time.monotonic() > deadline:
                return self.arrivals
            await asyncio.sleep(every)


async def burst(
    people: People, messages: Sequence[tuple[Person, str]], spacing: float = 0.0, concurrency: int = 50
) -> list[float]:
    """Each person sends their message in their private chat, spacing seconds apart (0: all at once,
    concurrency at a time); returns the wall time each was sent."""
    gate, start = asyncio.Semaphore(concurrency), time.monotonic()

    async def one(i: int, person: Person, text: str) -> float:
        await asyncio.sleep(max(0.0, start + i * spacing - time.monotonic()))
        async with gate:
            return await people.say(person.user_id, person.user_id, text)

    return list(await asyncio.gather(*(one(i, p, t) for i, (p, t) in enumerate(messages))))
