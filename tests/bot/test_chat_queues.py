"""WeCom's per-conversation limits (30 a minute, 1000 an hour) by queueing, and sends retried, never dropped."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from reportbot.bot.chat_queues import WECOM_LIMITS, ChatQueues, RateLimit, Refused, Retry


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_the_31st_message_in_a_minute_waits_for_the_first_to_leave_the_window() -> None:
    time = FakeTime()
    limit = RateLimit(WECOM_LIMITS, time.clock, time.sleep)
    for _ in range(30):
        await limit.acquire("wrGROUP")
        time.now += 1.0
    assert time.now == 30.0
    await limit.acquire("wrGROUP")
    assert time.now == 60.0  # the first went at 0: the 31st may go when it is a minute old
    assert limit.wait_for("lisi") == 0.0  # another conversation is not held up


async def test_the_hourly_limit_holds_a_conversation_that_keeps_within_the_minute() -> None:
    time = FakeTime()
    limit = RateLimit(WECOM_LIMITS, time.clock, time.sleep)
    for _ in range(1000):
        await limit.acquire("wrGROUP")
        time.now += 2.0  # 30 a minute exactly
    assert 1999.0 < time.now <= 2000.0
    await limit.acquire("wrGROUP")
    assert time.now >= 3600.0


@dataclass(frozen=True)
class Item:
    chat_id: str
    text: str


async def test_a_failed_send_is_tried_again_once_connected_and_order_is_kept() -> None:
    sent: list[str] = []
    failures = {"b": 1}
    connected = asyncio.Event()
    connected.set()

    async def send(item: Item) -> None:
        if failures.get(item.text):
            failures[item.text] -= 1
            raise RuntimeError("WebSocket not connected")
        sent.append(item.text)

    queues: ChatQueues[Item] = ChatQueues(send, RateLimit(), connected.wait, retry=Retry(attempts=3, first_pause=0))
    for text in "abc":
        queues.put(Item("lisi", text))
    await queues.close()
    assert sent == ["a", "b", "c"]


async def test_a_message_that_keeps_failing_is_reported_not_lost_silently() -> None:
    given_up: list[Item] = []

    async def send(item: Item) -> None:
        raise RuntimeError("errcode=40008")

    async def ready() -> None:
        return None

    async def gave_up(item: Item) -> None:
        given_up.append(item)

    queues: ChatQueues[Item] = ChatQueues(send, RateLimit(), ready, gave_up, Retry(attempts=2, first_pause=0))
    queues.put(Item("lisi", "x"))
    await queues.close()
    assert given_up == [Item("lisi", "x")]


async def test_without_an_attempt_limit_a_send_is_tried_until_it_goes_through_and_a_refusal_ends_at_once() -> None:
    """DingTalk and Feishu are reached over HTTP: an outage of their OpenAPI is waited out however many tries it
    takes (here 20), while a refusal for good (a chat the robot left) is given up at the first try."""
    tries: dict[str, int] = {"a": 0, "gone": 0}
    sent: list[str] = []
    given_up: list[str] = []

    async def send(item: Item) -> None:
        tries[item.text] = tries.get(item.text, 0) + 1
        if item.text == "gone":
            raise Refused("HTTP 400 invalidParameter.openConversationId.notExist")
        if item.text == "a" and tries["a"] <= 20:
            raise RuntimeError("HTTP 503")
        sent.append(item.text)

    async def ready() -> None:
        return None

    async def gave_up(item: Item) -> None:
        given_up.append(item.text)

    retry = Retry(attempts=None, first_pause=0, longest_pause=0)
    queues: ChatQueues[Item] = ChatQueues(send, RateLimit(), ready, gave_up, retry)
    for chat, text in (("lisi", "a"), ("cidGONE", "gone"), ("lisi", "b")):
        queues.put(Item(chat, text))
    await queues.close()
    assert sent == ["a", "b"] and tries["a"] == 21
    assert given_up == ["gone"] and tries["gone"] == 1


async def test_a_conversation_held_by_its_limit_does_not_hold_up_another() -> None:
    sent: list[str] = []
    release = asyncio.Event()

    class HeldGroup(RateLimit):
        async def acquire(self, chat: str) -> None:
            if chat == "wrGROUP":
                await release.wait()

    async def send(item: Item) -> None:
        sent.append(item.chat_id)

    async def ready() -> None:
        return None

    queues: ChatQueues[Item] = ChatQueues(send, HeldGroup(), ready)
    queues.put(Item("wrGROUP", "card"))
    queues.put(Item("lisi", "receipt"))
    while "lisi" not in sent:
        await asyncio.sleep(0)
    assert sent == ["lisi"]
    release.set()
    await queues.close()
    assert sent == ["lisi", "wrGROUP"]
