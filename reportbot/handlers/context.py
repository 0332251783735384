"""What every use case is handed: built once in the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database


@dataclass(frozen=True)
class Services:
    db: Database
    render: Renderer
    policy: Policy

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.policy.timezone)
