"""Sending on Telegram: a passing failure is tried again in order, a refusal is final."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from reportbot.bot.telegram import TelegramTransport, transient
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
