"""Button data: one typed, versioned codec (``rb1:<verb>:<report id>[:<reason>]``, a gathered card's
``rg1:<verb>:<card id>:<report id>[:<reason>]`` and ``rg1:a:<card id>``, a receipt's QR button
``qr1:<report id>``), ≤ 64 bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from reportbot.rules.model import RejectReason

PREFIX = "rb1"
MAX_BYTES = 64  # Telegram's limit for callback_data


class Verb(StrEnum):
    CONFIRM = "c"
    REJECT_MENU = "r"
    REJECT = "x"
    BACK = "b"
    ALL = "a"  # 全部确认, on a gathered card only


@dataclass(frozen=True)
class CardAction:
    verb: Verb
    report_id: int
    reason: RejectReason | None = None

    def encode(self) -> str:
        parts = [PREFIX, self.verb.value, str(self.report_id)]
        if self.reason is not None:
            parts.append(self.reason.value)
        data = ":".join(parts)
        assert len(data.encode()) <= MAX_BYTES
        return data


PATTERN = re.compile(r"^rb1:(?P<verb>[crxb]):(?P<id>[1-9][0-9]{0,17})(?::(?P<reason>[a-z]{1,8}))?$")
GATHERED_PATTERN = re.compile(
    r"^rg1:(?P<verb>[crxba]):(?P<card>[1-9][0-9]{0,17})(?::(?P<id>[0-9]{0,18})(?::(?P<reason>[a-z]{1,8}))?)?$"
)


@dataclass(frozen=True)
class GatheredAction:
    """A button of a gathered card: a decision on one of its reports, or 全部确认 (``report_id`` None). On a
    card whose reports are picked from a list (``messages.Pick``) the id is the pick, None when nothing was."""

    verb: Verb
    card_id: int
    report_id: int | None = None
    reason: RejectReason | None = None

    def encode(self, report: str | None = None) -> str:
        """``report``: what stands for the report id (``messages.PICKED`` on a card with a list)."""
        parts = ["rg1", self.verb.value, str(self.card_id)]
        if self.verb is not Verb.ALL:
            parts.append(report if report is not None else str(self.report_id))
        if self.reason is not None:
            parts.append(self.reason.value)
        data = ":".join(parts)
        assert len(data.replace("{pick}", "9" * 18).encode()) <= MAX_BYTES
        return data


def decode_gathered(data: object) -> GatheredAction | None:
    if not isinstance(data, str):
        return None
    match = GATHERED_PATTERN.match(data)
    if not match:
        return None
    verb, reason_code, ident = Verb(match["verb"]), match["reason"], match["id"]
    if (verb is Verb.REJECT) != (reason_code is not None) or (verb is Verb.ALL) != (ident is None):
        return None
    try:
        reason = RejectReason(reason_code) if reason_code else None
    except ValueError:
        return None
    report = int(ident) if ident else None
    return GatheredAction(verb, int(match["card"]), report or None, reason)
QR_PATTERN = re.compile(r"^qr1:(?P<id>[1-9][0-9]{0,17})$")


@dataclass(frozen=True)
class QrAction:
    """The button under a receipt that sends its 带看 QR code (``qr1:<report id>``)."""

    report_id: int

    def encode(self) -> str:
        data = f"qr1:{self.report_id}"
        assert len(data.encode()) <= MAX_BYTES
        return data


def decode_qr(data: object) -> QrAction | None:
    if not isinstance(data, str):
        return None
    match = QR_PATTERN.match(data)
    return QrAction(int(match["id"])) if match else None


def decode(data: object) -> CardAction | None:
    """The action a button stands for, or None for data this version did not write (or not even text)."""
    if not isinstance(data, str):
        return None
    match = PATTERN.match(data)
    if not match:
        return None
    verb = Verb(match["verb"])
    reason_code = match["reason"]
    if (verb is Verb.REJECT) != (reason_code is not None):
        return None
    try:
        reason = RejectReason(reason_code) if reason_code else None
    except ValueError:
        return None
    return CardAction(verb, int(match["id"]), reason)
