"""Per-chat lines, and the gathering of report cards when a group's line falls behind (issue 24)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from reportbot.bot.lines import Gathering, Lines, Pace, take
from reportbot.bot.outbox import Outbox
from reportbot.handlers.messages import Action, Send

Item = tuple[str, int | None, bool]  # (label, the report whose card it is, in doubt)


def card_of(item: Item) -> int | None:
    return item[1]


def in_doubt(item: Item) -> bool:
    return item[2]


def card(n: int, doubt: bool = False) -> Item:
    return (f"card {n}", n, doubt)


def other(label: str) -> Item:
    return (label, None, False)


def test_behind_means_more_cards_than_the_limit_lets_out_in_about_ten_seconds() -> None:
    assert Gathering.behind_limit(20, 60.0, 20) == Gathering(3, 20)  # Telegram: 20 a minute per group
    assert Gathering.behind_limit(30, 60.0, 10) == Gathering(5, 10)  # WeCom: 30 a minute per conversation
    assert Gathering.behind_limit(1, 3600.0, 5) == Gathering(1, 5)  # never below one


def test_a_line_within_its_limit_sends_one_card_at_a_time() -> None:
    line = deque([card(1), other("reminder"), card(2), card(3)])
    assert take(line, card_of, Gathering(3, 20), in_doubt) == ([card(1)], False)
    assert list(line) == [other("reminder"), card(2), card(3)]


def test_a_line_behind_gathers_its_cards_in_order_and_other_messages_keep_their_places() -> None:
    line = deque([card(1), other("reminder"), card(2), other("notice"), card(3), card(4)])
    taken, gathered = take(line, card_of, Gathering(3, 20), in_doubt)
    assert gathered and taken == [card(1), card(2), card(3), card(4)]
    assert list(line) == [other("reminder"), other("notice")]


def test_one_card_holds_at_most_so_many_and_the_rest_wait_for_the_next() -> None:
    line = deque([card(n) for n in range(1, 8)] + [other("digest")])
    taken, gathered = take(line, card_of, Gathering(1, 3), in_doubt)
    assert gathered and taken == [card(1), card(2), card(3)]
    assert list(line) == [card(4), card(5), card(6), card(7), other("digest")]


def test_only_a_card_at_the_head_starts_a_gathering() -> None:
    line = deque([other("receipt"), card(1), card(2), card(3)])
    assert take(line, card_of, Gathering(1, 20), in_doubt) == ([other("receipt")], False)
    assert take(line, card_of, None, in_doubt) == ([card(1)], False)  # no gathering on this channel


def test_a_card_in_doubt_after_a_crash_goes_out_gathered_even_alone() -> None:
    """It may have arrived before the crash: sent again as a gathered card, which is then its live card and
    makes the old one answer that it moved."""
    line = deque([card(1, doubt=True), other("receipt")])
    assert take(line, card_of, Gathering(3, 20), in_doubt) == ([card(1, doubt=True)], True)


@given(st.lists(st.one_of(st.integers(1, 10**6).map(card), st.text(max_size=3).map(other)), max_size=60),
       st.integers(1, 6), st.integers(1, 8))
def test_taking_until_empty_sends_each_item_once_and_keeps_each_kind_in_order(
    items: list[Item], after: int, most: int
) -> None:
    line = deque(items)
    out: list[Item] = []
    while line:
        taken, gathered = take(line, card_of, Gathering(after, most), in_doubt)
        assert 1 <= len(taken) <= max(1, most)
        assert not gathered or all(card_of(i) is not None for i in taken)
        out += taken
    assert sorted(map(repr, out)) == sorted(map(repr, items))
    assert [i for i in out if i[1] is not None] == [i for i in items if i[1] is not None]
    assert [i for i in out if i[1] is None] == [i for i in items if i[1] is None]


async def test_lines_send_each_chat_in_order_and_report_what_is_left_at_close() -> None:
    gate = asyncio.Event()
    seen: list[tuple[str, list[Item], bool]] = []

    async def work(chat: str, items: list[Item], gathered: bool) -> None:
        if chat == "group":
            await gate.wait()
        seen.append((chat, items, gathered))

    lines: Lines[Item] = Lines(work, name="test", card_of=card_of, in_doubt=in_doubt, gathering=Gathering(2, 20))
    lines.put("group", card(1))
    await asyncio.sleep(0)  # the group's worker takes card 1 and waits at the gate
    for n in range(2, 6):
        lines.put("group", card(n))
    lines.put("private", other("receipt"))
    await asyncio.wait_for(_until(lambda: len(seen) == 1), 5)
    assert seen == [("private", [other("receipt")], False)]  # the held group holds up nobody
    assert lines.waiting("group") == 4 and lines.waiting() == 4  # card 1 is in flight
    gate.set()
    await asyncio.wait_for(lines.drain(), 5)
    assert seen[1:] == [("group", [card(1)], False), ("group", [card(2), card(3), card(4), card(5)], True)]
    gate.clear()
    lines.put("group", card(6))
    assert await lines.close(0.05) == 1


# -- the outbox: gathering, and falling back to single cards -----------------------------------------


class GatedSender:
    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[Send] = []

    async def __call__(self, action: Action) -> None:
        assert isinstance(action, Send)
        if action.chat_id == "-100":
            await self.gate.wait()
        self.sent.append(action)


def report_card(report_id: int) -> Send:
    return Send("-100", f"card of {report_id}", card_of=report_id)


async def test_the_outbox_gathers_a_group_that_falls_behind_and_journals_every_answer_the_card_stands_for() -> None:
    sender = GatedSender()
    gathered: list[list[int]] = []
    steps: list[tuple[list[int], bool, list[int]]] = []

    async def gather(chat: str, report_ids: list[int]) -> Send:
        gathered.append(report_ids)
        return Send(chat, f"gathered {report_ids}")

    async def journal(*, done: Sequence[int], failed: bool, sending: Sequence[int]) -> None:
        steps.append((list(done), failed, list(sending)))

    outbox = Outbox(sender, journal, gather=gather, gathering=Gathering(2, 20))
    for n in range(1, 6):
        outbox.put(report_card(n), 100 + n)
        outbox.put(Send(f"{n}", f"receipt {n}"), 200 + n)
        await asyncio.sleep(0)  # the group's worker takes card 1 and waits at the gate
    await asyncio.wait_for(_until(lambda: len(sender.sent) == 5), 5)
    assert sorted(s.text for s in sender.sent) == [f"receipt {n}" for n in range(1, 6)]  # none behind the group
    sender.gate.set()
    await asyncio.wait_for(outbox.drain(), 5)
    assert [s.text for s in sender.sent[5:]] == ["card of 1", "gathered [2, 3, 4, 5]"]
    assert gathered == [[2, 3, 4, 5]]
    group_steps = [s for s in steps if set(s[0] + s[2]) & {101, 102, 103, 104, 105}]
    assert ([], False, [101]) in group_steps and ([101], False, [102, 103, 104, 105]) in group_steps
    assert ([102, 103, 104, 105], False, []) in group_steps
    await outbox.close()


async def test_when_gathering_fails_the_cards_go_out_one_by_one(caplog) -> None:  # type: ignore[no-untyped-def]
    sender = GatedSender()

    async def gather(chat: str, report_ids: list[int]) -> Send:
        raise ConnectionRefusedError("the database is away")

    outbox = Outbox(sender, gather=gather, gathering=Gathering(1, 20))
    for n in range(1, 5):
        outbox.put(report_card(n))
    sender.gate.set()
    await asyncio.wait_for(outbox.drain(), 5)
    assert [s.text for s in sender.sent] == [f"card of {n}" for n in range(1, 5)]
    assert "could not gather 4 cards" in caplog.text
    await outbox.close()


async def test_without_a_gather_hook_nothing_is_gathered() -> None:
    sender = GatedSender()
    outbox = Outbox(sender, gathering=Gathering(1, 20))
    for n in range(1, 5):
        outbox.put(report_card(n))
    sender.gate.set()
    await asyncio.wait_for(outbox.drain(), 5)
    assert [s.text for s in sender.sent] == [f"card of {n}" for n in range(1, 5)]
    await outbox.close()


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    while not condition():
        await asyncio.sleep(0.01)


# -- pacing: a card waits for its turn before the worker takes it --------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


async def test_a_pace_lets_a_burst_through_then_one_each_interval_per_chat() -> None:
    time = FakeTime()
    pace = Pace(30, 60.0, burst=5, clock=time.clock, sleep=time.sleep)  # WeCom's 30 a minute, 5 at once
    for _ in range(5):
        await pace("group")
    assert time.slept == []
    await pace("group")
    await pace("group")
    assert time.slept == [2.0, 2.0]  # then one every 2 s
    await pace("another group")  # each chat its own bucket
    assert time.slept == [2.0, 2.0]


async def test_cards_that_queue_while_the_head_card_waits_its_turn_go_out_with_it() -> None:
    """The decision to gather is taken when the head card may go out, not before it waits: a burst paced at
    one card a turn goes out as one single card and then one gathered card, not as single cards each
    waiting a turn while the rest queue behind them."""
    turn = asyncio.Event()
    seen: list[tuple[list[Item], bool]] = []

    async def ready(chat: str) -> None:
        await turn.wait()
        turn.clear()

    async def work(chat: str, items: list[Item], gathered: bool) -> None:
        seen.append((items, gathered))

    lines: Lines[Item] = Lines(work, name="test", card_of=card_of, gathering=Gathering(2, 20), ready=ready)
    lines.put("group", card(1))
    await asyncio.sleep(0)
    turn.set()  # card 1's turn: nothing else waits yet
    await asyncio.wait_for(_until(lambda: len(seen) == 1), 5)
    for n in range(2, 7):
        lines.put("group", card(n))
        await asyncio.sleep(0)  # card 2 is at the head, waiting for its turn, while 3–6 queue
    lines.put("group", other("reminder"))
    turn.set()
    await asyncio.wait_for(lines.drain(), 5)  # the reminder is not a card: it never waits for a card's turn
    assert seen == [([card(1)], False), ([card(2), card(3), card(4), card(5), card(6)], True),
                    ([other("reminder")], False)]
    await lines.close(0)
