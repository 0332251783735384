"""Sending on Telegram: a passing failure is tried again in order, a refusal is final."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from reportbot.bot.telegram import TelegramTransport
from reportbot.bot.telegram_send import transient
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Send
from reportbot.scheduler.clock import SystemClock


def test_network_trouble_is_transient_and_refusals_are_not() -> None:
    assert transient(NetworkError("connection reset")) and transient(TimedOut())
    assert transient(TelegramError("Invalid server response"))
    assert not transient(BadRequest("Chat not found")) and not transient(Forbidden("bot was blocked by the user"))


async def test_a_send_is_tried_until_telegram_takes_it_and_a_refusal_stops_at_once(
    svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asyncio, "sleep", _instant)
    transport = TelegramTransport(svc, SystemClock(), tmp_path / "journal")
    attempts: list[str] = []
    failures = [TelegramError("Invalid server response"), TimedOut(), RetryAfter(3), NetworkError("reset")]

    async def flaky(action: Send) -> None:
        attempts.append(action.text)
        if failures:
            raise failures.pop(0)

    monkeypatch.setattr(transport, "_send_once", flaky)
    await transport._deliver(Send("101", "回执"))
    assert attempts == ["回执"] * 5

    async def blocked(action: Send) -> None:
        attempts.append(action.text)
        raise Forbidden("bot was blocked by the user")

    monkeypatch.setattr(transport, "_send_once", blocked)
    with pytest.raises(Forbidden):
        await transport._deliver(Send("102", "回执"))
    assert attempts.count("回执") == 6
    transport.journal.close()


_real_sleep = asyncio.sleep


async def _instant(seconds: float) -> None:
    await _real_sleep(0)


async def test_a_chart_is_drawn_once_as_it_is_sent_and_one_that_cannot_be_drawn_is_skipped(
    svc: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SendPhoto/SendDocument are made when sent (not while their message was handled): a resend after a
    passing failure reuses the bytes; a picture that cannot be drawn is logged and nothing is sent for it."""
    from types import SimpleNamespace

    from reportbot.handlers.messages import SendDocument, SendPhoto

    monkeypatch.setattr(asyncio, "sleep", _instant)
    transport = TelegramTransport(svc, SystemClock(), tmp_path / "journal")
    drawn: list[str] = []
    sent: list[tuple[str, bytes]] = []
    failures = [TimedOut()]

    def draw() -> bytes:
        drawn.append("chart")
        return b"\x89PNG chart"

    def broken() -> bytes:
        raise RuntimeError("no CJK font")

    async def send_photo(chat_id: str, png: bytes, **_: object) -> None:
        if failures:
            raise failures.pop(0)
        sent.append((chat_id, png))

    async def send_document(chat_id: str, data: bytes, **_: object) -> None:
        sent.append((chat_id, data))

    transport.application = SimpleNamespace(bot=SimpleNamespace(send_photo=send_photo, send_document=send_document))  # type: ignore[assignment]
    await transport._deliver(SendPhoto("104", draw, "本周统计", "stats.png"))
    await transport._deliver(SendPhoto("104", broken, "本周统计", "stats.png"))
    await transport._deliver(SendDocument("104", lambda: b"PK xlsx", "ledger.xlsx"))
    assert drawn == ["chart"] and sent == [("104", b"\x89PNG chart"), ("104", b"PK xlsx")]
    transport.journal.close()
