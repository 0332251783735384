"""What every use case is handed: built once in the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias
from zoneinfo import ZoneInfo

from reportbot.handlers.render import Renderer
from reportbot.rules import privacy, visit_code
from reportbot.rules.phone import Phone
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from reportbot.storage.uow import Work

# What ``Database.uow()`` hands a use case: a unit of its own, or one joined to the unit that encloses the
# whole handling of a message — both a storage/uow.py ``Work``. A helper that is passed a unit takes either.
Unit: TypeAlias = Work


@dataclass(frozen=True)
class WebLinks:
    """Where the web desk is (WEB_URL) and the key visit codes are made with (from WEB_SECRET)."""

    base_url: str
    code_key: bytes = field(repr=False)

    def visit_code(self, report_id: int) -> str:
        return visit_code.encode(report_id, self.code_key)

    def visit_url(self, report_id: int) -> str:
        return f"{self.base_url}/v/{self.visit_code(report_id)}"


@dataclass(frozen=True)
class Services:
    db: Database
    render: Renderer
    policy: Policy
    phone_key: privacy.PhoneKey | None = None  # PHONE_HASH_KEY; None: visits match by the masked key only
    web: WebLinks | None = None  # the web desk, when WEB_LISTEN is set: sign-in links and visit codes

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.policy.timezone)

    def phone_hash(self, phone: Phone) -> str | None:
        """The keyed hash of a full number (None for a masked one, or when no key is set)."""
        return self.phone_key.digest(phone) if self.phone_key else None

    def scrub(self, text: str) -> str:
        """Free text as it may be stored: every whole phone number in it masked."""
        return privacy.mask_full_numbers(text, self.policy.mask_suffix_digits)
