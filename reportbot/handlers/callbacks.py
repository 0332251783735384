"""Button data: one typed, versioned codec (``rb1:<verb>:<report id>[:<reason>]``, a receipt's QR button
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
