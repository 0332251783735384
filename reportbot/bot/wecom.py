"""The WeCom (企业微信) transport: smart-robot callbacks in, neutral messages to the handlers, actions out.

A message callback answers through ``aibot_respond_msg`` on the callback's req_id while that
connection lives, and through ``aibot_send_msg`` otherwise (also for everything said to another
conversation: the card to the project's group, the canvasser told, reminders). A card button press
(``template_card_event``) updates the card in place with ``aibot_respond_update_msg`` on the event's
req_id, at once, because WeCom allows that only within 5 seconds. WeCom has no alert shown only to
the presser: a refusal goes to the presser privately; an alert beside a card update is the update.

WeCom hands a callback out once, so every callback is first appended to a local spool file and synced
(bot/spool.py), then handled in arrival order. While the database is away the worker waits (however
long; bot/faults.py) and new callbacks pile up in the spool; a person kept waiting is told once that
their message is in. Answers to a callback that waited are pushed (``aibot_send_msg``), not replied on
its req_id, whose window may be gone; a press that waited posts its card anew.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aibot import WSClient

from reportbot.bot import wecom_frames as frames
from reportbot.bot.faults import Faults, Patience, Step, through_outages
from reportbot.bot.lines import Gathering, Pace
from reportbot.bot.settings import Settings
from reportbot.bot.spool import Spool, Spooled
from reportbot.bot.wecom_link import LinkOptions, WeComLink
from reportbot.bot.wecom_queue import ChatQueues, RateLimit
from reportbot.handlers import cards, deadletters, delivery
from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Action, Edit, Send
from reportbot.handlers.router import handle_message
from reportbot.scheduler.clock import Clock
from reportbot.storage.health import Verdict, is_outage

log = logging.getLogger(__name__)
CHANNEL = frames.CHANNEL
GATHERED_MOST = 10  # reports on one gathered card: its list (button_selection) holds at most 10 options


@dataclass(frozen=True)
class Reply:
    """Where an answer may go as a reply: the callback frame (its req_id) and the connection it came on."""

    client: WSClient
    frame: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    send: Send
    reply: Reply | None = None
    outbox_id: int | None = None  # the stored answer (handlers.delivery), marked sent once it went out
    also: tuple[int, ...] = ()  # a gathered card: the other stored answers (cards) it stands for

    @property
    def outbox_ids(self) -> tuple[int, ...]:
        return (() if self.outbox_id is None else (self.outbox_id,)) + self.also

    @property
    def chat_id(self) -> str:
        return self.send.chat_id


def link_options(settings: Settings) -> LinkOptions:
    assert settings.wecom_bot_id and settings.wecom_bot_secret
    return LinkOptions(
        bot_id=settings.wecom_bot_id,
        secret=settings.wecom_bot_secret.get_secret_value(),
        ws_url=settings.wecom_ws_url,
        ca_file=settings.wecom_ca_file,
    )


@dataclass
class Waiting:
    """A callback on disk (the spool), waiting its turn; ``client`` None when it came before this process."""

    entry: Spooled
    client: WSClient | None
    since: float  # time.monotonic() of its arrival
    waited: bool = False  # it waited for the database: its reply window may be gone, answers are pushed
    keep: bool = False  # not to be marked done: neither handled nor recorded as a dead letter

    @property
    def key(self) -> str:
        body = self.entry.frame.get("body") or {}
        return frames.delivery_key(body) or f"spool:{self.entry.seq}"


class WeComTransport:
    def __init__(
        self, services: Services, clock: Clock, options: LinkOptions, spool: Path, limit: RateLimit | None = None,
    ) -> None:
        self.services = services
        self.clock = clock
        self.limit = limit or RateLimit()
        self.link = WeComLink(options, self._take_message, self._take_event)
        count, period = self.limit.limits[0]  # a conversation's limit: WeCom's 30 a minute unless a test says
        gathering = Gathering.behind_limit(count, period, most=GATHERED_MOST)
        self.outbox: ChatQueues[Outgoing] = ChatQueues(
            self._deliver, self.limit, self._wait_connected, self._gave_up, combine=self._gather,
            card_of=lambda item: item.send.card_of, gathering=gathering,
            pace=Pace(count, period, burst=gathering.after, clock=self.limit.clock, sleep=self.limit.sleep),
        )
        self.spool = Spool(spool)
        self._arrivals: asyncio.Queue[tuple[str, WSClient, dict[str, Any], float, datetime]] = asyncio.Queue()
        self._inbox: asyncio.Queue[Waiting] = asyncio.Queue()
        self._queued: dict[int, Waiting] = {}  # spooled, not yet handled: by seq, in order
        self._tasks: set[asyncio.Task[None]] = set()
        self.watch = services.db.watch
        self.faults = Faults(self.watch)
        self.patience = Patience(self.watch, services.render, self._tell)
        self._held: set[int] = set()  # stored answers queued here and not yet recorded as sent
        self._unjournaled: dict[int, bool] = {}  # sent, but the database could not be told yet
        self.watch.on_recovery.append(self._after_outage)
        self.route: Callable[[Sequence[Action | delivery.Queued]], None] = self.dispatch  # bot/channels.py

    # -- in: every callback is spooled (bot/spool.py), then handled in arrival order, one at a time --

    def _take_message(self, client: WSClient, frame: dict[str, Any]) -> None:
        self._arrivals.put_nowait(("message", client, frame, time.monotonic(), self.clock.now()))

    def _take_event(self, client: WSClient, frame: dict[str, Any]) -> None:
        self._arrivals.put_nowait(("event", client, frame, time.monotonic(), self.clock.now()))

    async def run(self, stop: asyncio.Event) -> None:
        """The connection and the callback worker until ``stop``; then what is queued goes out while connected."""
        # What was left unsent is queued before any new callback is handled: a callback handled while
        # the stored answers were being read had its answer read too, and sent twice.
        await through_outages(self.watch, self.resend_unsent, "WeCom: sending the answers left unsent")
        left = self.spool.load()  # spooled by an earlier run and never handled: first, in their order
        if left:
            log.warning("WeCom: handling %d callbacks spooled before the last stop", len(left))
        for entry in left:
            self._enqueue(Waiting(entry, None, time.monotonic(), waited=True))
        spooler = asyncio.create_task(self._spool_arrivals(), name="wecom:spool")
        worker = asyncio.create_task(self._work(), name="wecom:inbox")
        others = asyncio.create_task(self._send_what_others_stored(), name="wecom:others")
        link_stop = asyncio.Event()
        link = asyncio.create_task(self.link.run(link_stop), name="wecom:link")
        try:
            await stop.wait()
        finally:
            worker.cancel()  # a callback cut short commits nothing; it is in the spool, handled at the next start
            others.cancel()
            await asyncio.gather(worker, others, return_exceptions=True)
            await self.patience.close()
            # Stored answers not sent now are sent at the next start; without a connection, none can be.
            await self.outbox.close(timeout=10.0 if self.link.client is not None else 0.0)
            link_stop.set()
            await link
            await self._spool_what_arrived()  # callbacks that came meanwhile are kept for the next start
            spooler.cancel()
            await asyncio.gather(spooler, return_exceptions=True)
            self.spool.close()

    async def _spool_arrivals(self) -> None:
        """Arrivals onto disk, synced, in batches; then to the worker. Never waits for the database."""
        while True:
            first = await self._arrivals.get()
            await self._spool([first, *self._take_arrivals()])

    def _take_arrivals(self) -> list[tuple[str, WSClient, dict[str, Any], float, datetime]]:
        taken = []
        while not self._arrivals.empty():
            taken.append(self._arrivals.get_nowait())
        return taken

    async def _spool_what_arrived(self) -> None:
        arrived = self._take_arrivals()
        if arrived:
            await self._spool(arrived)

    async def _spool(self, arrived: list[tuple[str, WSClient, dict[str, Any], float, datetime]]) -> None:
        entries, data = self.spool.prepare([(kind, frame, at) for kind, _, frame, _, at in arrived])
        try:
            await asyncio.to_thread(self.spool.write, data)
        except OSError:  # a full disk: the database may still take them; a crash now would lose them
            log.exception("WeCom: could not spool %d callbacks; handling them unspooled", len(entries))
        for entry, (_, client, _, since, _) in zip(entries, arrived, strict=True):
            self._enqueue(Waiting(entry, client, since))

    def _enqueue(self, item: Waiting) -> None:
        self._queued[item.entry.seq] = item
        if self.watch.is_down:
            self._wait_with(item)
        self._inbox.put_nowait(item)

    def _wait_with(self, item: Waiting) -> None:
        """``item`` waits for the database: its answers will be pushed; its sender may be told it is in."""
        item.waited = True
        incoming = frames.incoming(item.entry.frame, item.entry.received_at)
        press = None if incoming is not None else frames.press(item.entry.frame, item.entry.received_at)
        if incoming is not None:
            self.patience.arrived(item.key, incoming.chat_id, incoming.sender_id, incoming.text, since=item.since)
        elif press is not None:
            self.patience.arrived(item.key, press.sender_id, press.sender_id, None, since=item.since)

    async def _work(self) -> None:
        while True:
            item = await self._inbox.get()
            await self._until_handled(item)
            self._queued.pop(item.entry.seq, None)
            self.patience.handled(item.key)
            if item.keep:
                continue
            try:
                self.spool.done(item.entry.seq)
            except OSError:  # handling it again after a restart is a no-op (its delivery key)
                log.warning("WeCom: could not mark spooled callback %d done", item.entry.seq)

    async def _until_handled(self, item: Waiting) -> None:
        """Handle ``item``; through an outage wait (however long), retry, or set it aside (bot/faults.py)."""
        while True:
            error = await self._handle(item)
            if error is None:
                self.faults.succeeded(item.key)
                return
            decision = await self.faults.after(item.key, error)
            if decision.step is Step.WAIT:
                for waiting in self._queued.values():
                    self._wait_with(waiting)
                await self.watch.wait_until_up()
            elif decision.step is Step.AGAIN:
                await asyncio.sleep(decision.pause)
            elif await self._set_aside(item, error):
                return

    async def _handle(self, item: Waiting) -> BaseException | None:
        kind, frame = item.entry.kind, item.entry.frame
        client = None if item.waited else item.client
        try:
            if kind == "message":
                await self.on_message(client, frame, item.entry.received_at)
            else:
                await self.on_event(client, frame, item.entry.received_at)
        except Exception as exc:  # noqa: BLE001 — judged (and logged) by bot/faults.py
            return exc
        return None

    async def _set_aside(self, item: Waiting, exc: BaseException) -> bool:
        parsed = frames.incoming(item.entry.frame, item.entry.received_at) or frames.press(
            item.entry.frame, item.entry.received_at)
        if parsed is None:
            log.error("WeCom callback failed and carries nothing to handle; skipped: %s", str(item.entry.frame)[:300])
            return True
        try:
            answers = await deadletters.set_aside(self.services, parsed, exc, self.clock.now())
        except Exception as failure:  # noqa: BLE001 — judged here: an outage waits, anything else stays spooled
            if await self.watch.classify(failure) is Verdict.OUTAGE:
                return False
            log.critical("WeCom: a dead letter could not be recorded (%s); it stays in the spool %s, handled "
                         "again at the next start", failure, self.spool.path)
            item.keep = True
            return True
        self.route(answers)
        return True

    def _tell(self, chat_id: str, text: str, context: object) -> None:
        self.outbox.put(Outgoing(Send(chat_id, text)))

    async def on_message(self, client: WSClient | None, frame: dict[str, Any], now: datetime | None = None) -> None:
        """A message callback: to the router, once per msgid; the answers to the outbox (replies on it)."""
        incoming = frames.incoming(frame, now or self.clock.now())
        if incoming is None:
            return
        handled = await delivery.handle_once(
            self.services.db, incoming, lambda: handle_message(incoming, self.services)
        )
        reply = Reply(client, frame) if client is not None else None
        self._queue(handled.to_send, reply, incoming.chat_id)

    async def on_event(self, client: WSClient | None, frame: dict[str, Any], now: datetime | None = None) -> None:
        """An event callback: a card button press decides, once per msgid; other events need no answer."""
        press = frames.press(frame, now or self.clock.now())
        if press is None:
            return
        handled = await delivery.handle_once(self.services.db, press, lambda: handle_press(press, self.services))
        edits = [q for q in handled.to_send if isinstance(q.action, Edit)]
        for queued in edits[:1]:
            assert isinstance(queued.action, Edit)
            if client is not None:
                await self._update_card(client, frame, queued.action, queued.outbox_id)
            else:  # the press waited: its 5-second window to update the card is gone, the card is posted anew
                self._queue([delivery.Queued(_as_new_card(queued.action), queued.outbox_id)], None, None)
        alerts = [a.text for a in handled.alerts if a.text]
        if alerts and not edits:  # no alert only the presser sees: a refusal reaches them privately
            self.outbox.put(Outgoing(Send(press.sender_id, alerts[0])))
        self._queue([q for q in handled.to_send if not isinstance(q.action, Edit)], None, None)

    async def resend_unsent(self) -> None:
        """Answers recorded before a crash or stop but not known to have gone out are sent first."""
        pending = await delivery.unsent(self.services.db, CHANNEL)
        if pending:
            log.warning("WeCom: sending %d stored answers left unsent", len(pending))
        for queued in pending:
            action = queued.action
            if isinstance(action, Edit):  # the 5-second window of its press is long gone: post the card anew
                action = _as_new_card(action)
            self._queue([delivery.Queued(action, queued.outbox_id)], None, None)

    async def _send_what_others_stored(self, every: float = 2.0) -> None:
        """Every few seconds: answers another process stored for WeCom (`reportbot web` registering a visit),
        not held here, stored a while ago (what this process stores it queues at once)."""
        while True:
            await asyncio.sleep(every)
            try:
                settled = self.clock.now() - timedelta(seconds=3)
                foreign = [q for q in await delivery.unsent(self.services.db, CHANNEL, settled)
                           if q.outbox_id not in self._held and q.outbox_id not in self._unjournaled]
            except Exception as exc:  # noqa: BLE001 — tried again in a few seconds
                log.debug("looking for answers stored elsewhere failed: %s", exc)
                continue
            if foreign:
                log.info("WeCom: sending %d answers stored by another process", len(foreign))
                for queued in foreign:
                    action = _as_new_card(queued.action) if isinstance(queued.action, Edit) else queued.action
                    self._queue([delivery.Queued(action, queued.outbox_id)], None, None)

    async def _after_outage(self) -> None:
        """Once the database is back: record what was sent meanwhile, then send what an outage left stored
        and unsent (a commit that went through while its reply was lost)."""
        unjournaled, self._unjournaled = self._unjournaled, {}
        for outbox_id, failed in unjournaled.items():
            await self._journal(outbox_id, failed=failed)
        orphans = [q for q in await delivery.unsent(self.services.db, CHANNEL)
                   if q.outbox_id not in self._held and q.outbox_id not in self._unjournaled]
        if orphans:
            log.warning("WeCom: sending %d stored answers an outage left unsent", len(orphans))
            for queued in orphans:
                action = _as_new_card(queued.action) if isinstance(queued.action, Edit) else queued.action
                self._queue([delivery.Queued(action, queued.outbox_id)], None, None)

    # -- out --

    def dispatch(self, actions: Sequence[Action | delivery.Queued]) -> None:
        """Actions with no callback to answer (the sweeper's reminders and digests)."""
        self._queue(actions, None, None)

    def _queue(self, answers: Sequence[Action | delivery.Queued], reply: Reply | None, reply_chat: str | None) -> None:
        for answer in answers:
            queued = answer if isinstance(answer, delivery.Queued) else delivery.Queued(answer)
            action = queued.action
            if isinstance(action, Send):
                as_reply = reply if reply is not None and action.chat_id == reply_chat else None
                if queued.outbox_id is not None:
                    self._held.add(queued.outbox_id)
                self.outbox.put(Outgoing(action, as_reply, queued.outbox_id))
            elif queued.outbox_id is not None:  # a robot cannot delete a member's message: nothing to send
                self._spawn(self._journal(queued.outbox_id, failed=False))

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _journal(self, outbox_id: int | None, *, failed: bool) -> None:
        """Mark a stored answer sent (or failed for good). While the database is away it is remembered and
        recorded once it is back (``_after_outage``); only a restart before that sends it again."""
        if outbox_id is None:
            return
        try:
            await delivery.record_progress(self.services.db, sending=set(), done={outbox_id: failed}, at=self.clock.now())
        except Exception as exc:
            self._unjournaled[outbox_id] = failed
            if is_outage(exc):
                await self.watch.outage(exc)
            else:
                log.exception("WeCom: could not mark answer %s as sent", outbox_id)
        finally:
            self._held.discard(outbox_id)

    async def _gave_up(self, item: Outgoing) -> None:
        for outbox_id in item.outbox_ids:
            await self._journal(outbox_id, failed=True)

    async def _gather(self, chat: str, items: list[Outgoing]) -> Outgoing:
        """The cards waiting in a group that fell behind WeCom's limit, as one card (bot/lines.py)."""
        card = await cards.gather(self.services, CHANNEL, chat, [item.send.card_of or 0 for item in items],
                                  self.clock.now())
        ids = [outbox_id for item in items for outbox_id in item.outbox_ids]
        return Outgoing(card, None, ids[0] if ids else None, tuple(ids[1:]))

    async def _wait_connected(self) -> None:
        await self.link.ready()

    async def _deliver(self, item: Outgoing) -> None:
        """A reply on the callback while its connection lives; a push otherwise. Then marked sent."""
        send, reply = item.send, item.reply
        client = self.link.client
        if reply is not None and client is reply.client and client.is_connected:
            if send.buttons:
                card = frames.template_card(send.text, send.buttons, frames.new_task_id(), send.pick)
                await client.reply_template_card(reply.frame, card)
            else:
                await client.reply(reply.frame, frames.stream_body(send.text))
        else:
            client = await self.link.ready()
            if send.buttons:
                body = frames.card_body(send.text, send.buttons, frames.new_task_id(), send.pick)
                await client.send_message(send.chat_id, body)
            else:
                await client.send_message(send.chat_id, frames.markdown_body(send.text))
        for outbox_id in item.outbox_ids:
            await self._journal(outbox_id, failed=False)

    async def _update_card(self, client: WSClient, frame: dict[str, Any], edit: Edit, outbox_id: int | None) -> None:
        """The pressed card, updated in place on the event's req_id; failing that, posted anew."""
        card = frames.template_card(edit.text, edit.buttons, edit.message_id, edit.pick)
        self.limit.record(edit.chat_id)
        try:
            await client.update_template_card(frame, card)
        except Exception as exc:  # noqa: BLE001 — the 5-second window passed or the connection went
            log.warning("WeCom: could not update card %s in place (%s); posting it again", edit.message_id, exc)
            if outbox_id is not None:
                self._held.add(outbox_id)
            self.outbox.put(Outgoing(_as_new_card(edit), None, outbox_id))
            return
        await self._journal(outbox_id, failed=False)


def _as_new_card(edit: Edit) -> Send:
    """An update of a card that can no longer be updated in place (WeCom allows 5 seconds): a new card."""
    return Send(edit.chat_id, edit.text, edit.buttons, pick=edit.pick)


def build(services: Services, clock: Clock, settings: Settings) -> WeComTransport:
    return WeComTransport(services, clock, link_options(settings), settings.spool_path("wecom"))
