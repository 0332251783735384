"""The neutral messages between a transport and the use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Incoming:
    """A text message a person wrote to the bot."""

    channel: str  # "telegram", "console", later "wecom"
    sender_id: str
    chat_id: str
    is_group: bool
    text: str
    now: datetime  # aware UTC: the moment the bot received it (arrival order decides "first")
    message_id: str | None = None
    delivery_key: str | None = None  # the channel's id for this message: handled once (handlers.delivery)


@dataclass(frozen=True)
class Press:
    """A button press on one of the bot's messages."""

    channel: str
    sender_id: str
    chat_id: str
    message_id: str
    data: str
    now: datetime
    delivery_key: str | None = None


@dataclass(frozen=True)
class Button:
    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Send:
    """A new message. ``channel`` None means the channel the request came in on."""

    chat_id: str
    text: str
    buttons: Keyboard = ()
    channel: str | None = None


@dataclass(frozen=True)
class Edit:
    """Replace the text and buttons of an earlier bot message."""

    chat_id: str
    message_id: str
    text: str
    buttons: Keyboard = ()


@dataclass(frozen=True)
class Delete:
    """Remove a message (a group message that showed a full phone number)."""

    chat_id: str
    message_id: str


@dataclass(frozen=True)
class Alert:
    """A short notice shown only to the person who pressed a button."""

    text: str


@dataclass(frozen=True)
class SendPhoto:
    """A picture (PNG bytes) with a short caption, e.g. the statistics chart."""

    chat_id: str
    png: bytes = field(repr=False)
    caption: str = ""
    filename: str = "chart.png"
    channel: str | None = None


@dataclass(frozen=True)
class SendDocument:
    """A file (e.g. the .xlsx ledger) with a short caption."""

    chat_id: str
    data: bytes = field(repr=False)
    filename: str
    caption: str = ""
    channel: str | None = None


Action = Send | Edit | Delete | Alert | SendPhoto | SendDocument
