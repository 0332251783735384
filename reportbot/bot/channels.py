"""Every configured channel in one process, on one core and one sweeper (`reportbot run` with WeCom).

The sweeper names a channel on every reminder and digest (handlers/sweep.py); ``Channels`` hands
each action to that channel's transport. Telegram alone still runs through python-telegram-bot's
``run_polling`` (bot/cli.py); with WeCom configured, with or without Telegram, ``serve`` runs here.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from reportbot.bot.settings import Settings
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action
from reportbot.scheduler.clock import Clock
from reportbot.scheduler.sweeper import Sweeper

log = logging.getLogger(__name__)
Dispatch = Callable[[list[Action]], None]


class Channels:
    """The running channels, in order of registration; the first takes actions that name none."""

    def __init__(self) -> None:
        self._dispatch: dict[str, Dispatch] = {}

    def add(self, channel: str, dispatch: Dispatch) -> None:
        self._dispatch[channel] = dispatch

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._dispatch)

    def dispatch(self, actions: list[Action]) -> None:
        for action in actions:
            channel = getattr(action, "channel", None) or self.names[0]
            target = self._dispatch.get(channel)
            if target is None:
                log.warning("no %s channel runs here: %s not sent", channel, type(action).__name__)
                continue
            target([action])


async def serve(settings: Settings, services: Services, clock: Clock, stop: asyncio.Event) -> None:
    """Start every channel whose keys are set; run until ``stop``; shut down in order, the database last."""
    from reportbot.bot.wecom import build as build_wecom

    channels = Channels()
    telegram = application = None
    if settings.telegram_bot_token is not None:
        from reportbot.bot.telegram import CHANNEL as TELEGRAM
        from reportbot.bot.telegram import TelegramTransport

        telegram = TelegramTransport(services, clock)
        application = telegram.build(settings)
        channels.add(TELEGRAM, telegram.dispatch)
    wecom = build_wecom(services, clock, settings)
    channels.add("wecom", wecom.dispatch)
    sweeper = Sweeper(services, clock, channels.names, channels.dispatch)

    wecom_task = asyncio.create_task(wecom.run(stop), name="wecom")
    if telegram is not None and application is not None:
        telegram.sweeper = sweeper  # one sweeper for the process, or a WeCom-only person's reminder is lost
        await application.initialize()
        await telegram.on_start(application)  # the command menu, then the first sweep
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=settings.telegram_poll_interval, allowed_updates=["message", "callback_query"]
        )
    else:
        await sweeper.start()
    log.info("reportbot runs on: %s", ", ".join(channels.names))
    await stop.wait()

    await wecom_task
    if telegram is not None and application is not None:
        assert application.updater is not None
        await application.updater.stop()
        await application.stop()
        await telegram.on_shutdown(application)  # stops the sweeper, sends what is queued, closes the database
        await application.shutdown()
    else:
        sweeper.stop()
        await services.db.dispose()


def run(settings: Settings, services: Services, clock: Clock) -> None:
    """``serve`` until SIGINT or SIGTERM."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, services, clock, stop)

    asyncio.run(main())
