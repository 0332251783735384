"""One queue per chat: a group held back by its rate limit never holds up a private reply."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from reportbot.bot.outbox import Outbox
from reportbot.handlers.messages import Action, Send


class GatedSender:
    """Sends instantly, except to chats whose gate is closed (as a rate-limited group waits)."""

    def __init__(self, held: set[str]) -> None:
        self.gates = {chat: asyncio.Event() for chat in held}
        self.sent: list[Send] = []

    async def __call__(self, action: Action) -> None:
        assert isinstance(action, Send)
        if action.chat_id in self.gates:
            await self.gates[action.chat_id].wait()
        self.sent.append(action)


async def test_a_waiting_group_send_does_not_delay_private_replies() -> None:
    sender = GatedSender(held={"-100"})
    outbox = Outbox(sender)
    outbox.put(Send("-100", "card 1"))
    outbox.put(Send("101", "receipt 1"))
    outbox.put(Send("-100", "card 2"))
    outbox.put(Send("102", "receipt 2"))
    await asyncio.wait_for(_until(lambda: len(sender.sent) == 2), timeout=5)
    assert [s.text for s in sender.sent] == ["receipt 1", "receipt 2"]
    sender.gates["-100"].set()
    await asyncio.wait_for(outbox.drain(), timeout=5)
    assert [s.text for s in sender.sent[2:]] == ["card 1", "card 2"]  # the group's own order is kept
    await outbox.close()


async def test_a_failed_send_is_logged_and_the_chat_queue_goes_on(caplog) -> None:  # type: ignore[no-untyped-def]
    delivered: list[str] = []

    async def flaky(action: Action) -> None:
        assert isinstance(action, Send)
        if action.text == "boom":
            raise RuntimeError("network down")
        delivered.append(action.text)

    outbox = Outbox(flaky)
    for text in ("one", "boom", "two"):
        outbox.put(Send("101", text))
    await asyncio.wait_for(outbox.drain(), timeout=5)
    assert delivered == ["one", "two"]
    assert "sending to chat 101 failed" in caplog.text
    await outbox.close()


async def test_stored_answers_are_journaled_one_step_per_send_with_at_most_one_in_doubt() -> None:
    steps: list[tuple[int | None, bool, int | None]] = []
    sent: list[str] = []

    async def journal(*, done: Sequence[int], failed: bool, sending: Sequence[int]) -> None:
        assert len(done) <= 1 and len(sending) <= 1  # one message, one answer each
        steps.append((done[0] if done else None, failed, sending[0] if sending else None))

    async def send(action: Action) -> None:
        assert isinstance(action, Send)
        if action.text == "boom":
            raise RuntimeError("chat not found")
        sent.append(action.text)

    outbox = Outbox(send, journal)
    outbox.put(Send("101", "receipt"), 1)
    outbox.put(Send("101", "boom"), 2)
    outbox.put(Send("101", "reminder"))  # not stored: not journaled, but still closes the step before it
    outbox.put(Send("101", "last"), 3)
    await asyncio.wait_for(outbox.drain(), timeout=5)
    assert sent == ["receipt", "reminder", "last"]
    # Before each stored send it is marked "sending", folded into the same commit as the previous outcome.
    assert steps == [(None, False, 1), (1, False, 2), (2, True, None), (None, False, 3), (3, False, None)]
    await outbox.close()


async def _until(condition) -> None:  # type: ignore[no-untyped-def]
    while not condition():
        await asyncio.sleep(0.01)
