"""Every configured channel in one process, on one core and one sweeper, and the web beside them.

The sweeper names a channel on every reminder and digest (handlers/sweep.py); ``Channels`` hands
each action to that channel's transport. Telegram alone runs through its own transport (bot/cli.py);
with WeCom, DingTalk, Feishu or the web (WEB_LISTEN) configured, ``serve`` runs here. `reportbot web` serves the web alone:
what its pages store for a channel (a visit's notices) the process holding that channel sends.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from reportbot.bot.settings import Settings

if TYPE_CHECKING:
    from reportbot.bot.chat_transport import SpooledTransport
from reportbot.handlers.context import Services
from reportbot.handlers.delivery import Queued
from reportbot.handlers.messages import Action
from reportbot.scheduler.clock import Clock
from reportbot.scheduler.sweeper import Sweeper

log = logging.getLogger(__name__)
Dispatch = Callable[[Sequence[Action | Queued]], None]


class Channels:
    """The running channels, in order of registration; the first takes actions that name none."""

    def __init__(self) -> None:
        self._dispatch: dict[str, Dispatch] = {}

    def add(self, channel: str, dispatch: Dispatch) -> None:
        self._dispatch[channel] = dispatch

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._dispatch)

    def dispatch(self, answers: Sequence[Action | Queued]) -> None:
        for answer in answers:
            action = answer.action if isinstance(answer, Queued) else answer
            channel = getattr(action, "channel", None) or self.names[0]
            target = self._dispatch.get(channel)
            if target is None:
                log.warning("no %s channel runs here: %s not sent", channel, type(action).__name__)
                continue
            target([answer])

    def dispatch_on(self, channel: str, answers: Sequence[Action | Queued]) -> None:
        """Answers that all belong to ``channel`` (an edit names none): to that channel's transport."""
        target = self._dispatch.get(channel)
        if target is None:
            log.warning("no %s channel runs here: %d answers not sent", channel, len(answers))
            return
        target(answers)


async def serve(
    settings: Settings, services: Services, clock: Clock, stop: asyncio.Event, *, webhook: bool = False,
    channels_on: bool = True,
) -> None:
    """Start every channel whose keys are set, and the web when WEB_LISTEN is; run until ``stop``; shut down
    in order, the database last. ``channels_on`` False: the web alone (`reportbot web`), whose stored
    answers the process that holds each channel sends."""
    channels = Channels()
    telegram = application = None
    if channels_on and settings.telegram_bot_token is not None:
        from reportbot.bot.telegram import CHANNEL as TELEGRAM
        from reportbot.bot.telegram import TelegramTransport

        telegram = TelegramTransport(services, clock, settings.journal_path("telegram"))
        application = telegram.build(settings)
        channels.add(TELEGRAM, telegram.dispatch)
        telegram.route = channels.dispatch  # a dead letter's alert may be for an admin on the other channel
    messengers: list[SpooledTransport] = []
    if channels_on:
        messengers = _messengers(settings, services, clock)
    for messenger in messengers:
        channels.add(messenger.channel, messenger.dispatch)
        messenger.route = channels.dispatch
    sweeper = Sweeper(services, clock, channels.names, channels.dispatch, channels.dispatch_on) if channels.names else None

    web_runner = None
    if settings.web_configured:
        from reportbot.bot.web.server import serve_web, web_app

        app = web_app(services, clock, secure_cookies=(settings.web_url or "").startswith("https://"),
                      route=channels.dispatch if channels.names else None)
        web_runner = await serve_web(app, *settings.web_address)
    messenger_tasks = [asyncio.create_task(m.run(stop), name=m.channel) for m in messengers]
    telegram_stop = asyncio.Event()
    telegram_task = None
    if telegram is not None and application is not None:
        # One sweeper for the process, or a reminder claimed by a one-channel sweep is lost for the other.
        telegram.sweeper = sweeper  # type: ignore[assignment]  # started by its on_start, stopped when it stops sending
        telegram_task = asyncio.create_task(telegram.serve(application, settings, webhook=webhook, stop=telegram_stop))
    elif sweeper is not None:
        await sweeper.start()
    log.info("reportbot runs on: %s", ", ".join([*channels.names, *(["web"] if web_runner else [])]) or "nothing")
    await stop.wait()

    if sweeper is not None:
        sweeper.stop()
    if web_runner is not None:
        await web_runner.cleanup()
    if messenger_tasks:
        for ended in await asyncio.gather(*messenger_tasks, return_exceptions=True):  # one failing stops no other
            if isinstance(ended, BaseException):
                log.error("a messenger stopped with an error: %r", ended)
    if telegram_task is not None:
        telegram_stop.set()
        await telegram_task  # sends what is queued, then closes the database
    else:
        await services.db.dispose()


def _messengers(settings: Settings, services: Services, clock: Clock) -> list[SpooledTransport]:
    """The long-connection messengers whose keys are set, each on the same core (bot/chat_transport.py)."""
    found: list[SpooledTransport] = []
    if settings.wecom_configured:
        from reportbot.bot.wecom import build as build_wecom

        found.append(build_wecom(services, clock, settings))
    if settings.dingtalk_configured:
        from reportbot.bot.dingtalk import build as build_dingtalk

        found.append(build_dingtalk(services, clock, settings))
    if settings.feishu_configured:
        from reportbot.bot.feishu import build as build_feishu

        found.append(build_feishu(services, clock, settings))
    return found


def run(settings: Settings, services: Services, clock: Clock, *, webhook: bool = False, channels_on: bool = True) -> None:
    """``serve`` until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, services, clock, stop, webhook=webhook, channels_on=channels_on)

    asyncio.run(main())
