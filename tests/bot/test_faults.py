"""What a transport does after a failure (bot/faults.py): wait, try again, set aside; and who is told."""

from __future__ import annotations

import asyncio

from reportbot.bot.faults import ATTEMPTS, Faults, Patience, Step
from reportbot.handlers.render import Renderer
from reportbot.storage.health import Verdict


class ScriptedWatch:
    def __init__(self, *verdicts: Verdict) -> None:
        self.verdicts = list(verdicts)
        self.is_down = False

    async def classify(self, exc: BaseException) -> Verdict:
        return self.verdicts.pop(0)


async def test_an_outage_is_never_counted_against_the_message() -> None:
    faults = Faults(ScriptedWatch(*[Verdict.OUTAGE] * 20, Verdict.FAILURE))  # type: ignore[arg-type]
    steps = [(await faults.after("m1", ConnectionRefusedError())).step for _ in range(20)]
    assert steps == [Step.WAIT] * 20
    assert (await faults.after("m1", KeyError())).step is Step.AGAIN  # the first failure of its own


async def test_a_message_failing_with_the_database_healthy_is_set_aside_at_the_third_attempt() -> None:
    faults = Faults(ScriptedWatch(Verdict.FAILURE, Verdict.BLIP, Verdict.FAILURE))  # type: ignore[arg-type]
    first, blip, third = [await faults.after("m1", KeyError()) for _ in range(ATTEMPTS)]
    assert (first.step, first.pause) == (Step.AGAIN, 1.0)
    assert (blip.step, blip.pause) == (Step.AGAIN, 0.0)  # a dropped connection: at once
    assert third.step is Step.SET_ASIDE


async def test_success_clears_the_count() -> None:
    faults = Faults(ScriptedWatch(*[Verdict.FAILURE] * 4))  # type: ignore[arg-type]
    await faults.after("m1", KeyError())
    await faults.after("m1", KeyError())
    faults.succeeded("m1")
    assert (await faults.after("m1", KeyError())).step is Step.AGAIN


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_people_whose_messages_wait_30_s_in_an_outage_are_told_once() -> None:
    watch = ScriptedWatch()
    watch.is_down = True
    told: list[tuple[str, str]] = []
    clock = Clock()
    patience = Patience(watch, Renderer("Asia/Shanghai"), lambda chat, text, _: told.append((chat, text)),  # type: ignore[arg-type]
                        clock=clock)
    patience.arrived("u1", "101", "101", "报备\n客户：张先生")
    patience.arrived("u2", "101", "101", "/mine")  # the same person again: one notice in all
    patience.arrived("u3", "-1001", "103", "报备 …", name="王五")
    clock.now += 29
    assert patience.tell_waiting() == 0
    clock.now += 2
    assert patience.tell_waiting() == 2 and patience.tell_waiting() == 0
    assert told[0] == ("101", "已收到您的报备，系统恢复后按收到的先后顺序处理，不用重发。\n处理后会发回执，报备时间以收到的先后为准。")
    assert told[1][0] == "-1001" and told[1][1].startswith("王五，已收到您的报备")
    for key in ("u1", "u2", "u3"):
        patience.handled(key)
    patience.arrived("u4", "101", "101", "/mine")  # a later outage tells again
    clock.now += 31
    assert patience.tell_waiting() == 1 and "已收到您的消息" in told[-1][1]
    await patience.close()


async def test_nobody_is_told_while_the_database_answers() -> None:
    watch = ScriptedWatch()
    told: list[str] = []
    clock = Clock()
    patience = Patience(watch, Renderer("Asia/Shanghai"), lambda chat, text, _: told.append(chat), clock=clock)  # type: ignore[arg-type]
    patience.arrived("u1", "101", "101", None)
    clock.now += 60
    await asyncio.sleep(0)
    assert patience.tell_waiting() == 0 and told == []
    await patience.close()
