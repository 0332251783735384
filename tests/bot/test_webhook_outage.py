"""The webhook through an outage (bot/webhook.py): a request is held while the database is away, answered
500 once it has waited too long (Telegram sends it again), and 200 only once the update is recorded."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer

from reportbot.bot.faults import Decision, Step
from reportbot.bot.webhook import SECRET_HEADER, webhook_app

SECRET = "a-webhook-secret-for-tests"
UPDATE = {"update_id": 5, "message": {"message_id": 1, "date": 1_800_000_000, "text": "报备",
                                      "chat": {"id": 101, "type": "private"}, "from": {"id": 101, "is_bot": False,
                                                                                      "first_name": "李四"}}}


class Outage:
    """The transport's side, with the database away until ``back`` is set."""

    def __init__(self) -> None:
        self.back = asyncio.Event()
        self.recorded: list[int] = []
        self.waited: list[int] = []

    async def handle(self, update: Any) -> BaseException | None:
        if not self.back.is_set():
            return ConnectionRefusedError(111, "refused")
        self.recorded.append(update.update_id)
        return None

    async def decide(self, update: Any, exc: BaseException) -> Decision:
        return Decision(Step.WAIT)

    async def set_aside(self, update: Any, exc: BaseException) -> bool:
        raise AssertionError("an outage is never set aside")

    def waiting(self, updates: Any, since: float) -> None:
        self.waited += [u.update_id for u in updates]

    def handled(self, update: Any) -> None: ...

    async def until_database(self, stop: asyncio.Event | None, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.back.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def post(server: TestServer, session: ClientSession) -> int:
    async with session.post(server.make_url("/hook"), json=UPDATE, headers={SECRET_HEADER: SECRET}) as answer:
        return answer.status


async def test_an_update_is_held_then_refused_while_away_and_recorded_once_back() -> None:
    outage = Outage()

    async def health() -> tuple[bool, dict[str, object]]:
        return outage.back.is_set(), {"status": "ok" if outage.back.is_set() else "unhealthy"}

    app = webhook_app(None, "/hook", SECRET, outage.handle, outage, health, hold=0.5)
    async with TestServer(app) as server, ClientSession() as session:
        assert await post(server, session) == 500  # held 0.5 s, still away: Telegram will send it again
        async with session.get(server.make_url("/healthz")) as answer:
            assert answer.status == 503 and (await answer.json())["status"] == "unhealthy"
        later = asyncio.create_task(post(server, session))  # Telegram's next try, while still away
        await asyncio.sleep(0.2)
        outage.back.set()  # the database is back within the hold
        assert await later == 200
        async with session.get(server.make_url("/healthz")) as answer:
            assert answer.status == 200
    assert outage.recorded == [5] and 5 in outage.waited
