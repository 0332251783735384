"""The Telegram transport: updates in, neutral messages to the handlers, their actions back out.

It is also the polling loop's and the webhook's ``Trouble`` (bot/polling.py): when an update fails,
bot/faults.py decides from what failed whether it waits for the database (confirmed to Telegram only
once handled, however long the outage), is tried again, or is set aside as a dead letter
(handlers/deadletters.py). People whose messages wait are told once (``Patience``), through the
outbox, which needs no database. Once the database is back, answers an outage may have left stored but
unsent (a commit whose reply was lost with the connection) are sent (``_after_outage``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import BotCommand, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from reportbot.bot.faults import Decision, Faults, Patience, through_outages
from reportbot.bot.journal import FileJournal
from reportbot.bot.lines import Gathering
from reportbot.bot.outbox import Outbox
from reportbot.bot.polling import poll
from reportbot.bot.settings import Settings
from reportbot.bot.telegram_send import (
    App,
    TelegramSending,
    with_bot_api_client,
)
from reportbot.handlers import cards, deadletters, delivery, status
from reportbot.handlers.callbacks import PATTERN
from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Action, Alert, Incoming, Press, Send
from reportbot.handlers.router import COMMANDS, handle_message
from reportbot.scheduler.clock import Clock
from reportbot.scheduler.sweeper import Sweeper
from reportbot.storage.health import Verdict, is_outage

log = logging.getLogger(__name__)
CHANNEL = "telegram"
GROUP_TYPES = {ChatType.GROUP, ChatType.SUPERGROUP}
UPDATES = ("message", "callback_query")
JOURNAL_FOLD_SECONDS = 2.0
PRUNE_EVERY = timedelta(hours=1)
FOREIGN_AFTER = timedelta(seconds=3)  # an unsent answer this old that is not held here was stored elsewhere
GROUP_LIMIT = (20, 60.0)  # messages a group may receive per seconds (AIORateLimiter's default, Telegram's FAQ)
GATHERED_MOST = 20  # reports on one gathered card: 41 buttons and about 2,000 of a message's 4,096 characters


class TelegramTransport(TelegramSending):
    """Holds the services for the PTB callbacks; no state of its own beyond the outbox."""

    def __init__(self, services: Services, clock: Clock, journal: Path) -> None:
        self.services = services
        self.clock = clock
        self.journal = FileJournal(journal)
        self.outbox = Outbox(self._deliver, self.journal, gather=self._gather,
                             gathering=Gathering.behind_limit(*GROUP_LIMIT, most=GATHERED_MOST))
        self._folding: asyncio.Task[None] | None = None
        self._failed: dict[int, BaseException] = {}  # update id → what its handler raised (see on_error)
        self._first_seen: dict[int, float] = {}  # update id → clock seconds, of updates that waited
        self.started = asyncio.Event()  # set once start-up (menu, unsent answers, sweeper) is done
        self.sweeper = Sweeper(services, clock, CHANNEL, self.dispatch)
        self.application: App | None = None
        self.watch = services.db.watch
        self.faults = Faults(self.watch)
        self.patience = Patience(self.watch, services.render, self._tell)
        self.watch.on_recovery.append(self._after_outage)
        # Answers that may go to another channel (a dead letter's alert to an admin): bot/channels.py
        # replaces this with the process's router when several channels run.
        self.route: Callable[[Sequence[Action | delivery.Queued]], None] = self.dispatch

    def build(self, settings: Settings, rate_limiter: AIORateLimiter | None = None) -> App:
        """The application `reportbot run` serves; ``rate_limiter``: Telegram's limits unless given (a benchmark)."""
        assert settings.telegram_bot_token is not None
        application = (
            with_bot_api_client(ApplicationBuilder())
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_base_url)
            .base_file_url(settings.telegram_base_file_url)
            .rate_limiter(rate_limiter or AIORateLimiter(max_retries=3))
            .post_init(self.on_start)
            .post_shutdown(self.on_shutdown)
            .build()
        )
        self.install(application)
        return application

    def install(self, application: App) -> None:
        self.application = application
        text = filters.TEXT & (filters.UpdateType.MESSAGE)
        application.add_handler(MessageHandler(text, self.on_message))
        application.add_handler(CallbackQueryHandler(self.on_press, pattern=PATTERN))
        application.add_handler(CallbackQueryHandler(self.on_press))  # stale/foreign data: still answered
        application.add_error_handler(self.on_error)

    async def on_start(self, application: App) -> None:
        """Set the command menu (the bot runs on without it), then expire and remind what fell due while down."""
        try:
            await application.bot.set_my_commands([BotCommand(c.name, c.description) for c in COMMANDS])
        except TelegramError as exc:
            log.warning("could not set the command menu: %s", exc)
        await through_outages(self.watch, self.resend_unsent, "sending the answers left unsent")
        await self.sweeper.start()
        self.started.set()

    async def resend_unsent(self) -> None:
        """Answers recorded before a crash or stop but not known to have gone out are sent first."""
        await self._fold()
        if self._folding is None:
            self._folding = asyncio.create_task(self._fold_every(JOURNAL_FOLD_SECONDS), name="outbox-journal")
        pending = await delivery.unsent(self.services.db, CHANNEL)
        if pending:
            doubtful = sum(q.was_in_flight for q in pending)
            log.warning("sending %d stored answers left unsent (%d were in flight and may arrive twice)",
                        len(pending), doubtful)
        self.dispatch(pending)

    async def _fold(self) -> None:
        """The journal into the outbox table; the answers it marked finished are no longer this process's."""
        self.outbox.forget(await self.journal.fold(self.services.db, self.clock.now()))

    async def _send_what_others_stored(self) -> None:
        """Answers another process stored for this channel (`reportbot web` registering a visit: its notices),
        not held here, stored a while ago (what this process stored is put to its queues at once)."""
        settled = self.clock.now() - FOREIGN_AFTER
        foreign = [q for q in await delivery.unsent(self.services.db, CHANNEL, settled)
                   if not self.outbox.holds(q.outbox_id)]
        if foreign:
            log.info("sending %d answers stored by another process", len(foreign))
            self.dispatch(foreign)

    async def _after_outage(self) -> None:
        """Stored answers that are neither queued here nor journaled as sent: a commit the outage cut off
        after it went through (the update was handled again, found its key, and answered nothing)."""
        await self._fold()
        orphans = [q for q in await delivery.unsent(self.services.db, CHANNEL) if not self.outbox.holds(q.outbox_id)]
        if orphans:
            log.warning("sending %d stored answers an outage left unsent", len(orphans))
            self.dispatch(orphans)

    async def serve(
        self, application: App, settings: Settings, *, webhook: bool = False,
        stop: asyncio.Event | None = None,
    ) -> None:
        """What `reportbot run` runs: start; poll, or serve the webhook; until SIGINT/SIGTERM (or ``stop``)."""
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        async with application:  # initialize … shutdown
            await self.on_start(application)
            try:
                if webhook:
                    await self._serve_webhook(application, settings, stop)
                else:
                    await application.bot.delete_webhook()  # getUpdates is refused while a webhook is set
                    await poll(application, stop, self.handle, self, interval=settings.telegram_poll_interval,
                               allowed_updates=UPDATES, batch=lambda: delivery.batch(self.services.db))
            finally:
                await self.patience.close()
                await self._stop_sending()  # while the bot can still send
        await self.services.db.dispose()

    async def _serve_webhook(self, application: App, settings: Settings, stop: asyncio.Event) -> None:
        # Only here: aiohttp's import alone is a sixth of the polling bot's cold start (bench).
        from aiohttp import web

        from reportbot.bot.webhook import webhook_app

        assert settings.webhook_url is not None and settings.webhook_secret is not None
        secret = settings.webhook_secret.get_secret_value()
        app = webhook_app(application.bot, settings.webhook_path, secret, self.handle, self, self.health)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = settings.webhook_address
        await web.TCPSite(runner, host, port).start()
        try:
            await application.bot.set_webhook(settings.webhook_url, secret_token=secret, allowed_updates=list(UPDATES))
            log.info("webhook listening on %s:%s%s for %s", host, port, settings.webhook_path, settings.webhook_url)
            await stop.wait()
        finally:
            await runner.cleanup()

    async def handle(self, update: Update) -> BaseException | None:
        """Handle one update through PTB's handlers; what it failed with (None: handled and committed)."""
        assert self.application is not None
        self._failed.pop(update.update_id, None)
        await self.application.process_update(update)
        return self._failed.pop(update.update_id, None)

    async def health(self) -> tuple[bool, dict[str, object]]:
        """``GET /healthz``: the bot's health, no personal data in it (handlers/status.py)."""
        found = await status.check(self.services.db, self.clock.now())
        return found.healthy, found.as_json()

    # -- Trouble (bot/polling.py): what to do when an update failed --

    async def decide(self, update: Update, exc: BaseException) -> Decision:
        return await self.faults.after(f"update:{update.update_id}", exc)

    async def until_database(self, stop: asyncio.Event | None, timeout: float) -> bool:
        return await self.watch.wait_until_up(stop, timeout)

    def waiting(self, updates: Sequence[Update], since: float) -> None:
        """Updates that wait for the database: their time is when they came (Telegram's date of a message,
        else when the bot first had it); their senders may be told that they are in."""
        now, wall = time.monotonic(), self.clock.now().timestamp()
        for update in updates:
            sent = update.message.date.timestamp() if update.message is not None else None
            came = min(wall - (now - since), sent) if sent is not None else wall - (now - since)
            self._first_seen.setdefault(update.update_id, came)
            waited_since = now - (wall - self._first_seen[update.update_id])
            item = self.decode(update)
            if item is not None:
                group = isinstance(item, Incoming) and item.is_group
                name = update.effective_user.first_name if group and update.effective_user else None
                text = item.text if isinstance(item, Incoming) else None
                chat = item.chat_id if isinstance(item, Incoming) else item.sender_id
                self.patience.arrived(f"update:{update.update_id}", chat, item.sender_id, text, name=name,
                                     since=waited_since)

    def handled(self, update: Update) -> None:
        self.faults.succeeded(f"update:{update.update_id}")
        if self._first_seen.pop(update.update_id, None) is not None:
            self.patience.handled(f"update:{update.update_id}")

    async def set_aside(self, update: Update, exc: BaseException) -> bool:
        """The update as a dead letter, its sender told and the admins alerted; False when that failed for
        an outage (the update is then handled again once the database is back)."""
        item = self.decode(update)
        if item is None:  # no message, no press: nothing anybody sent is lost
            log.error("update %s failed and carries nothing to handle; skipped", update.update_id, exc_info=exc)
            return True
        try:
            answers = await deadletters.set_aside(self.services, item, exc, self.clock.now())
        except Exception as failure:  # noqa: BLE001 — judged here: an outage waits, anything else is kept
            if await self.watch.classify(failure) is Verdict.OUTAGE or is_outage(failure):
                return False
            self._unrecorded(item, exc, failure)
            return True
        self.route(answers)
        return True

    def _unrecorded(self, item: Incoming | Press, exc: BaseException, failure: BaseException) -> None:
        """The last resort: a dead letter the database refused, kept in a local file and logged loudly."""
        path = self.journal.path.parent / "dead-letters-unrecorded.jsonl"
        text = item.text if isinstance(item, Incoming) else item.data
        line = {"channel": item.channel, "key": item.delivery_key, "sender": item.sender_id, "chat": item.chat_id,
                "at": item.now.isoformat(), "text": self.services.scrub(text),
                "error": deadletters.describe_error(self.services, exc)}
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        log.critical("a dead letter could not be recorded (%s); kept in %s", failure, path)

    def _tell(self, chat_id: str, text: str, context: object) -> None:
        self.outbox.put(Send(chat_id, text))

    async def on_shutdown(self, application: App) -> None:
        await self._stop_sending()
        await self.services.db.dispose()

    async def _stop_sending(self) -> None:
        self.sweeper.stop()
        await self.outbox.close()
        if self._folding is not None:
            self._folding.cancel()
            await asyncio.gather(self._folding, return_exceptions=True)
            self._folding = None
        try:
            await self._fold()
        except Exception as exc:  # noqa: BLE001 — the lines stay in the file: folded at the next start
            log.warning("could not fold the outbox journal at shutdown (%s); it is folded at the next start", exc)

    async def _fold_every(self, seconds: float) -> None:
        """Fold the journal into the outbox every few seconds; prune old delivery keys once an hour."""
        pruned_at = None
        while True:
            await asyncio.sleep(seconds)
            try:
                await self._fold()
                await self._send_what_others_stored()
                if pruned_at is None or self.clock.now() - pruned_at > PRUNE_EVERY:
                    pruned_at = self.clock.now()
                    await delivery.prune(self.services.db, pruned_at)
            except Exception as exc:  # the lines stay in the file and are folded next time
                if not is_outage(exc):
                    log.exception("folding the outbox journal failed")
                elif not self.watch.is_down:  # said once: the watch logs the outage itself
                    log.warning("folding the outbox journal waits for the database (%s)", type(exc).__name__)

    def decode(self, update: Update) -> Incoming | Press | None:
        """The neutral message of an update (None: nothing a person wrote or pressed). Its time is when the
        bot first had it: an update that waited for the database keeps its place and its time."""
        seen = self._first_seen.get(update.update_id)
        now = self.clock.now() if seen is None else datetime.fromtimestamp(seen, UTC)
        query = update.callback_query
        if query is not None:
            if query.message is None:
                return None
            return Press(
                channel=CHANNEL,
                sender_id=str(query.from_user.id),
                chat_id=str(query.message.chat.id),
                message_id=str(query.message.message_id),
                data=query.data or "",
                now=now,
                delivery_key=f"press:{query.id}",
            )
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or message.text is None:
            return None
        return Incoming(
            channel=CHANNEL,
            sender_id=str(user.id),
            chat_id=str(chat.id),
            is_group=chat.type in GROUP_TYPES,
            text=message.text,
            now=now,
            message_id=str(message.message_id),
            # The same message may come again (a crash before Telegram was told we had it): one key for both.
            delivery_key=f"msg:{chat.id}:{message.message_id}",
        )

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message: to the router; the answers go to the outbox."""
        incoming = self.decode(update)
        if not isinstance(incoming, Incoming):
            return
        handled = await delivery.handle_once(
            self.services.db, incoming, lambda: handle_message(incoming, self.services)
        )

        async def send() -> None:
            self.dispatch(handled.to_send)

        # Answers go out once what they answer is committed: at once, or after the polling loop's
        # group (delivery.batch) has committed; if the group fails, never (it is handled again).
        await self.services.db.after_commit(send)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: always answered, even when it changes nothing."""
        query = update.callback_query
        if query is None:
            return
        press = self.decode(update)
        if not isinstance(press, Press):
            await self.services.db.after_commit(query.answer)
            return
        handled = await delivery.handle_once(self.services.db, press, lambda: handle_press(press, self.services))
        alerts = [a.text for a in handled.alerts if a.text]

        async def answer() -> None:
            self.dispatch(handled.to_send)
            try:
                await query.answer(alerts[0] if alerts else None)
            except TelegramError as exc:  # too late or a redelivery: the press itself was handled
                log.info("could not answer callback query %s: %s", query.id, exc)

        await self.services.db.after_commit(answer)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Judged and logged by bot/faults.py (an outage once, by the watch; a failure with its traceback).
        error = context.error or RuntimeError("the update's handler failed")
        log.debug("update %s failed", getattr(update, "update_id", "?"), exc_info=error)
        if isinstance(update, Update):
            self._failed[update.update_id] = error

    def dispatch(self, answers: Sequence[Action | delivery.Queued]) -> None:
        for answer in answers:
            queued = answer if isinstance(answer, delivery.Queued) else delivery.Queued(answer)
            if not isinstance(queued.action, Alert):
                self.outbox.put(queued.action, queued.outbox_id, in_doubt=queued.was_in_flight)

    async def _gather(self, chat: str, report_ids: list[int]) -> Send:
        """The cards waiting in a group's line that fell behind, as one card (bot/lines.py)."""
        return await cards.gather(self.services, CHANNEL, chat, report_ids, self.clock.now())
