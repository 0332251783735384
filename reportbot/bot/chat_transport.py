"""What the messengers' long-connection transports share (WeCom, DingTalk, Feishu): spool, worker, outbox.

Each hands a callback out over a connection the bot opened and re-sends only what was not acknowledged.
So every callback is first appended to a local spool file and synced (bot/spool.py) — only then may it be
acknowledged (``arrive``'s future) — and handled in arrival order, once (its delivery key). While the
database is away the worker waits (bot/faults.py) and callbacks pile up in the spool; a person kept
waiting is told once that their message is in. Answers go out through a line per chat under the
messenger's limits (bot/chat_queues.py), a group that falls behind getting its cards gathered
(bot/lines.py); stored answers (handlers/delivery.py) are marked sent once out, and those left unsent —
by a crash, a stop, an outage or another process — go out at the next chance, once.

A subclass says how a frame reads (``parse``, ``delivery_key``), how an answer goes out (``deliver``), and
runs the connection (``run_link``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from reportbot.bot.chat_queues import ChatQueues, Outgoing, RateLimit, Retry
from reportbot.bot.faults import Faults, Patience, Step, through_outages
from reportbot.bot.lines import Gathering, Pace
from reportbot.bot.spool import Spool, Spooled
from reportbot.handlers import cards, deadletters, delivery
from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.identity import CHANNEL_LABELS
from reportbot.handlers.messages import Action, Edit, Incoming, Press, Send, SendDocument
from reportbot.handlers.router import handle_message
from reportbot.scheduler.clock import Clock
from reportbot.storage.health import Verdict, is_outage

log = logging.getLogger(__name__)
Frame = dict[str, Any]


@dataclass
class Waiting:
    """A callback on disk (the spool), waiting its turn; ``context`` None when it came before this process."""

    entry: Spooled
    context: object | None  # what the channel may answer it on while its connection lives
    since: float  # time.monotonic() of its arrival
    key: str
    waited: bool = False  # it waited for the database: its reply window may be gone, answers are pushed
    keep: bool = False  # not to be marked done: neither handled nor recorded as a dead letter


Arrival = tuple[str, object | None, Frame, float, datetime, "asyncio.Future[bool] | None"]


class SpooledTransport(ABC):
    channel: str = ""
    label: str = ""  # the messenger's name in logs

    def __init__(self, services: Services, clock: Clock, spool: Path, limit: RateLimit, *, gathered_most: int,
                 retry: Retry | None = None) -> None:
        self.services = services
        self.clock = clock
        self.limit = limit
        count, period = limit.limits[0]  # a conversation's limit
        gathering = Gathering.behind_limit(count, period, most=gathered_most)
        self.outbox: ChatQueues[Outgoing] = ChatQueues(
            self.deliver_and_journal, limit, self.wait_connected, self._gave_up, retry, combine=self._gather,
            card_of=lambda item: item.card_of, gathering=gathering, name=self.channel,
            pace=Pace(count, period, burst=gathering.after, clock=limit.clock, sleep=limit.sleep),
        )
        self.spool = Spool(spool)
        self._arrivals: asyncio.Queue[Arrival] = asyncio.Queue()
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

    # -- what a channel says --

    @abstractmethod
    def parse(self, kind: str, frame: Frame, now: datetime) -> Incoming | Press | None:
        """The neutral message or press a spooled frame carries (None: nothing to handle)."""

    @abstractmethod
    def delivery_key(self, frame: Frame) -> str | None: ...

    @abstractmethod
    async def deliver(self, item: Outgoing) -> None:
        """Send one answer (raises when it did not go out: it is tried again)."""

    async def wait_connected(self) -> None:
        """What a send waits for first (WeCom: the connection; the OpenAPI of the others needs none)."""

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    @property
    def can_send(self) -> bool:
        """Whether what is queued can go out now (at a stop: worth waiting for). WeCom sends on its connection."""
        return self.connected

    @abstractmethod
    async def run_link(self, stop: asyncio.Event) -> None:
        """The connection, kept up until ``stop``."""

    def reply_to(self, context: object | None, frame: Frame) -> object | None:
        """What an answer in the sender's chat may be a reply on (None: pushed)."""
        return None

    # -- in: every callback is spooled (bot/spool.py), then handled in arrival order, one at a time --

    def arrive(self, kind: str, frame: Frame, context: object | None = None) -> asyncio.Future[bool]:
        """A callback came (on the event loop's thread): the future is True once it is on disk — only then
        may it be acknowledged — and False when the disk refused it (it is handled all the same)."""
        spooled: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._arrivals.put_nowait((kind, context, frame, time.monotonic(), self.clock.now(), spooled))
        return spooled

    async def run(self, stop: asyncio.Event) -> None:
        """The connection and the callback worker until ``stop``; then what is queued goes out while connected."""
        # What was left unsent is queued before any new callback is handled: a callback handled while
        # the stored answers were being read had its answer read too, and sent twice.
        await through_outages(self.watch, self.resend_unsent, f"{self.label}: sending the answers left unsent")
        if left := self.spool.load():  # spooled by an earlier run and never handled: first, in their order
            log.warning("%s: handling %d callbacks spooled before the last stop", self.label, len(left))
        for entry in left:
            self._enqueue(Waiting(entry, None, time.monotonic(), self._key(entry), waited=True))
        spooler = asyncio.create_task(self._spool_arrivals(), name=f"{self.channel}:spool")
        worker = asyncio.create_task(self._work(), name=f"{self.channel}:inbox")
        others = asyncio.create_task(self._send_what_others_stored(), name=f"{self.channel}:others")
        link_stop = asyncio.Event()
        link = asyncio.create_task(self.run_link(link_stop), name=f"{self.channel}:link")
        try:
            await stop.wait()
        finally:
            worker.cancel()  # a callback cut short commits nothing; it is in the spool, handled at the next start
            others.cancel()
            await asyncio.gather(worker, others, return_exceptions=True)
            await self.patience.close()
            # Stored answers not sent now are sent at the next start; without a connection, none can be.
            await self.outbox.close(timeout=10.0 if self.can_send else 0.0)
            link_stop.set()
            await link
            await self._spool_what_arrived()  # callbacks that came meanwhile are kept for the next start
            spooler.cancel()
            await asyncio.gather(spooler, return_exceptions=True)
            self.spool.close()

    def _key(self, entry: Spooled) -> str:
        return self.delivery_key(entry.frame) or f"spool:{entry.seq}"

    async def _spool_arrivals(self) -> None:
        """Arrivals onto disk, synced, in batches; then to the worker. Never waits for the database."""
        while True:
            first = await self._arrivals.get()
            await self._spool([first, *self._take_arrivals()])

    def _take_arrivals(self) -> list[Arrival]:
        return [self._arrivals.get_nowait() for _ in range(self._arrivals.qsize())]

    async def _spool_what_arrived(self) -> None:
        if arrived := self._take_arrivals():
            await self._spool(arrived)

    async def _spool(self, arrived: list[Arrival]) -> None:
        entries, data = self.spool.prepare([(kind, frame, at) for kind, _, frame, _, at, _ in arrived])
        on_disk = True
        try:
            await asyncio.to_thread(self.spool.write, data)
        except OSError:  # a full disk: the database may still take them; a crash now would lose them
            on_disk = False
            log.exception("%s: could not spool %d callbacks; handling them unspooled", self.label, len(entries))
        try:
            for entry, (_, context, _, since, _, _) in zip(entries, arrived, strict=True):
                self._enqueue(Waiting(entry, context, since, self._key(entry)))
        finally:  # the acks wait on these: never leave one unresolved
            for *_, spooled in arrived:
                if spooled is not None and not spooled.done():
                    spooled.set_result(on_disk)

    def _enqueue(self, item: Waiting) -> None:
        self._queued[item.entry.seq] = item
        if self.watch.is_down:
            self._wait_with(item)
        self._inbox.put_nowait(item)

    def _wait_with(self, item: Waiting) -> None:
        """``item`` waits for the database: its answers will be pushed; its sender may be told it is in."""
        item.waited = True
        parsed = self.parse(item.entry.kind, item.entry.frame, item.entry.received_at)
        if isinstance(parsed, Incoming):
            self.patience.arrived(item.key, parsed.chat_id, parsed.sender_id, parsed.text, since=item.since)
        elif isinstance(parsed, Press):
            self.patience.arrived(item.key, parsed.sender_id, parsed.sender_id, None, since=item.since)

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
                log.warning("%s: could not mark spooled callback %d done", self.label, item.entry.seq)

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
        context = None if item.waited else item.context
        try:
            await self.handle(item.entry.kind, item.entry.frame, context, item.entry.received_at)
        except Exception as exc:  # noqa: BLE001 — judged (and logged) by bot/faults.py
            return exc
        return None

    async def handle(self, kind: str, frame: Frame, context: object | None, now: datetime) -> None:
        """A message to the router, a press to its decision, each once (its delivery key); answers queued."""
        parsed = self.parse(kind, frame, now)
        if isinstance(parsed, Incoming):
            await self.on_message(parsed, frame, context)
        elif isinstance(parsed, Press):
            await self.on_press(parsed, frame, context)

    async def on_message(self, incoming: Incoming, frame: Frame, context: object | None) -> None:
        handled = await delivery.handle_once(
            self.services.db, incoming, lambda: handle_message(incoming, self.services)
        )
        self._queue(handled.to_send, self.reply_to(context, frame), incoming.chat_id)

    async def on_press(self, press: Press, frame: Frame, context: object | None) -> None:
        """A card button press decides; the card is updated in place (an Edit in its chat's line). These
        messengers have no alert only the presser sees: a refusal reaches them privately."""
        handled = await delivery.handle_once(self.services.db, press, lambda: handle_press(press, self.services))
        alerts = [a.text for a in handled.alerts if a.text]
        if alerts and not any(isinstance(q.action, Edit) for q in handled.to_send):
            self.outbox.put(Outgoing(Send(press.sender_id, alerts[0])))
        self._queue(handled.to_send, None, None)

    async def _set_aside(self, item: Waiting, exc: BaseException) -> bool:
        parsed = self.parse(item.entry.kind, item.entry.frame, item.entry.received_at)
        if parsed is None:
            log.error("%s callback failed and carries nothing to handle; skipped: %s", self.label,
                      str(item.entry.frame)[:300])
            return True
        try:
            answers = await deadletters.set_aside(self.services, parsed, exc, self.clock.now())
        except Exception as failure:  # noqa: BLE001 — judged here: an outage waits, anything else stays spooled
            if await self.watch.classify(failure) is Verdict.OUTAGE:
                return False
            log.critical("%s: a dead letter could not be recorded (%s); it stays in the spool %s, handled "
                         "again at the next start", self.label, failure, self.spool.path)
            item.keep = True
            return True
        self.route(answers)
        return True

    def _tell(self, chat_id: str, text: str, context: object) -> None:
        self.outbox.put(Outgoing(Send(chat_id, text)))

    # -- stored answers --

    async def resend_unsent(self) -> None:
        """Answers recorded before a crash or stop but not known to have gone out are sent first."""
        if pending := await delivery.unsent(self.services.db, self.channel):
            log.warning("%s: sending %d stored answers left unsent", self.label, len(pending))
        self._queue(pending, None, None)

    def _not_held(self, pending: Sequence[delivery.Queued]) -> list[delivery.Queued]:
        return [q for q in pending if q.outbox_id not in self._held and q.outbox_id not in self._unjournaled]

    async def _send_what_others_stored(self, every: float = 2.0) -> None:
        """Every few seconds: answers another process stored for this channel (`reportbot web` registering a
        visit), not held here, stored a while ago (what this process stores it queues at once)."""
        while True:
            await asyncio.sleep(every)
            try:
                settled = self.clock.now() - timedelta(seconds=3)
                foreign = self._not_held(await delivery.unsent(self.services.db, self.channel, settled))
            except Exception as exc:  # noqa: BLE001 — tried again in a few seconds
                log.debug("looking for answers stored elsewhere failed: %s", exc)
                continue
            if foreign:
                log.info("%s: sending %d answers stored by another process", self.label, len(foreign))
                self._queue(foreign, None, None)

    async def _after_outage(self) -> None:
        """Once the database is back: record what was sent meanwhile, then send what an outage left stored
        and unsent (a commit that went through while its reply was lost)."""
        unjournaled, self._unjournaled = self._unjournaled, {}
        for outbox_id, failed in unjournaled.items():
            await self._journal(outbox_id, failed=failed)
        if orphans := self._not_held(await delivery.unsent(self.services.db, self.channel)):
            log.warning("%s: sending %d stored answers an outage left unsent", self.label, len(orphans))
            self._queue(orphans, None, None)

    # -- out --

    def dispatch(self, actions: Sequence[Action | delivery.Queued]) -> None:
        """Actions with no callback to answer (the sweeper's reminders and digests)."""
        self._queue(actions, None, None)

    def _queue(self, answers: Sequence[Action | delivery.Queued], reply: object | None, reply_chat: str | None) -> None:
        for answer in answers:
            queued = answer if isinstance(answer, delivery.Queued) else delivery.Queued(answer)
            action = queued.action
            if isinstance(action, Send | Edit):
                as_reply = reply if isinstance(action, Send) and action.chat_id == reply_chat else None
                self.put(Outgoing(action, as_reply, queued.outbox_id))
            elif isinstance(action, SendDocument):  # these robots send no files: the caption, and where to get it
                text = self.services.render("file_not_sent.j2", caption=action.caption, web=self.services.web is not None,
                                            channel=CHANNEL_LABELS.get(self.channel, self.channel))
                self.put(Outgoing(Send(action.chat_id, text), None, queued.outbox_id))
            elif queued.outbox_id is not None:  # a robot cannot delete a member's message: nothing to send
                task = asyncio.create_task(self._journal(queued.outbox_id, failed=False))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def put(self, item: Outgoing) -> None:
        self._held.update(item.outbox_ids)
        self.outbox.put(item)

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
                log.exception("%s: could not mark answer %s as sent", self.label, outbox_id)
        finally:
            self._held.discard(outbox_id)

    async def _gave_up(self, item: Outgoing) -> None:
        for outbox_id in item.outbox_ids:
            await self._journal(outbox_id, failed=True)

    async def _gather(self, chat: str, items: list[Outgoing]) -> Outgoing:
        """The cards waiting in a group that fell behind the limit, as one card (bot/lines.py)."""
        card = await cards.gather(self.services, self.channel, chat, [item.card_of or 0 for item in items],
                                  self.clock.now())
        ids = [outbox_id for item in items for outbox_id in item.outbox_ids]
        return Outgoing(card, None, ids[0] if ids else None, tuple(ids[1:]), key=items[0].key)

    async def deliver_and_journal(self, item: Outgoing) -> None:
        await self.deliver(item)
        for outbox_id in item.outbox_ids:
            await self._journal(outbox_id, failed=False)
