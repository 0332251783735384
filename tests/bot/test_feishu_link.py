"""The Feishu SDK's long connection on its own thread: events handed over and acknowledged once taken, and
a connection the SDK would leave down for minutes given a fresh client (tests/fakes/feishu_server.py)."""

from __future__ import annotations

import asyncio
import json

import pytest

from reportbot.bot.feishu import FeishuLink, Options
from tests.fakes.feishu_server import FakeFeishu

pytestmark = pytest.mark.timeout(120)


class Taken:
    """What the link hands to the bot's loop; ``on_disk`` False plays a spool the disk refused."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, dict]] = []  # type: ignore[type-arg]
        self.on_disk = True

    def __call__(self, kind: str, frame: dict) -> asyncio.Future[bool]:  # type: ignore[type-arg]
        self.frames.append((kind, frame))
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        done.set_result(self.on_disk)
        return done


async def test_events_are_handed_over_in_order_and_acknowledged_only_once_taken() -> None:
    taken = Taken()
    async with FakeFeishu() as feishu:
        link = FeishuLink(Options(feishu.app_id, feishu.secret, feishu.base), taken)
        stop = asyncio.Event()
        running = asyncio.create_task(link.run(stop))
        try:
            await feishu.wait_connected()
            first = await feishu.say("ou_li", "报备 一")
            second = await feishu.say("ou_li", "报备 二", group="oc_g")
            await feishu.wait_acked(second)
            assert feishu.acks[first] == 200
            texts = [json.loads(f["event"]["message"]["content"])["text"] for _, f in taken.frames]
            assert texts == ["报备 一", "@_user_1 报备 二"] and {k for k, _ in taken.frames} == {"message"}

            taken.on_disk = False  # not spooled: not acknowledged, so that Feishu sends it again
            refused = await feishu.say("ou_li", "报备 三")
            await feishu.wait(lambda: refused in feishu.acks, what="the answer to the third")
            assert feishu.acks[refused] != 200
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
    assert not link.connected


async def test_a_connection_the_sdk_would_leave_down_gets_a_fresh_client(caplog: pytest.LogCaptureFixture) -> None:
    """The endpoint busy twice: the SDK alone would wait up to 30 s, then 120 s after the second failure."""
    async with FakeFeishu() as feishu:
        feishu.busy = 2
        link = FeishuLink(Options(feishu.app_id, feishu.secret, feishu.base, stuck_after=1.0, watch_every=0.2,
                                  backoff_first=0.2), Taken())
        stop = asyncio.Event()
        running = asyncio.create_task(link.run(stop))
        try:
            await feishu.wait(lambda: link.connected, timeout=30, what="a connection")
            assert feishu.busy == 0
            assert "starting a fresh client" in caplog.text
        finally:
            stop.set()
            await asyncio.wait_for(running, 30)
