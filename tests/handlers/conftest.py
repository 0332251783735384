"""Service-layer tests of the use cases run both ways a message arrives (tests.office.Chat)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.office import Chat


@pytest.fixture(params=["direct", "delivered"])
def both_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Straight to the handler (the console), or with a delivery key, in one transaction (Telegram)."""
    monkeypatch.setattr(Chat, "delivered", request.param == "delivered")
    yield request.param
