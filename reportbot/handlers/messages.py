"""The neutral messages between a transport and the use cases."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incoming:
    """A text message a person wrote to the bot."""

    channel: str  # "telegram", "wecom", "dingtalk", "feishu", "console", "web"
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


PICKED = "{pick}"  # in a button's data: the option picked in the message's list (``Pick``), filled in on a press


@dataclass(frozen=True)
class Pick:
    """A list to choose one item from before pressing a button (WeCom's card dropdown): ``options`` are
    (id, label); a button whose data holds ``PICKED`` acts on the chosen option's id ("" when none)."""

    title: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Send:
    """A new message. ``channel`` None means the channel the request came in on. ``ephemeral``: never stored
    in the outbox (a sign-in link is a credential: lost to a crash, it is asked for again). ``card_of``: this
    is the group card of that report, and while the group's line is behind its limit the transport gathers
    it with the cards waiting behind it into one (handlers.cards.gather)."""

    chat_id: str
    text: str
    buttons: Keyboard = ()
    channel: str | None = None
    ephemeral: bool = False
    card_of: int | None = None
    pick: Pick | None = None


@dataclass(frozen=True)
class Edit:
    """Replace the text and buttons of an earlier bot message."""

    chat_id: str
    message_id: str
    text: str
    buttons: Keyboard = ()
    pick: Pick | None = None


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
    """A picture with a short caption, e.g. the statistics chart, drawn when it is sent.

    ``draw`` makes the PNG. Drawing a chart takes 0.15–0.6 s: done while the message that asked for it
    was handled, the handling's transaction (on SQLite the write lock) and the polling loop would wait
    that long, and with them everyone else's receipts. The transport calls ``png()`` as it sends."""

    chat_id: str
    draw: Callable[[], bytes] = field(repr=False, compare=False)
    caption: str = ""
    filename: str = "chart.png"
    channel: str | None = None
    _made: list[bytes | None] = field(default_factory=list, repr=False, compare=False)

    async def png(self) -> bytes | None:
        """The picture; None (logged) when it cannot be drawn: the rest of the answer goes out anyway."""
        return await _make_once(self._made, self.draw, self.filename)


@dataclass(frozen=True)
class SendDocument:
    """A file (e.g. the .xlsx ledger) with a short caption, built when it is sent (as ``SendPhoto``):
    the rows are read while the message is handled, the workbook is made from them afterwards."""

    chat_id: str
    build: Callable[[], bytes] = field(repr=False, compare=False)
    filename: str
    caption: str = ""
    channel: str | None = None
    _made: list[bytes | None] = field(default_factory=list, repr=False, compare=False)

    async def data(self) -> bytes | None:
        """The file; None (logged) when it cannot be built."""
        return await _make_once(self._made, self.build, self.filename)


async def _make_once(made: list[bytes | None], make: Callable[[], bytes], what: str) -> bytes | None:
    """``make()`` on a thread, the first time only (a resend, or a copy for another chat, reuses it)."""
    if not made:
        try:
            made.append(await asyncio.to_thread(make))
        except Exception:
            log.exception("could not make %s", what)
            made.append(None)
    return made[0]


Action = Send | Edit | Delete | Alert | SendPhoto | SendDocument
