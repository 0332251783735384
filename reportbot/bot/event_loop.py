"""The event loop the bot serves on: uvloop where it is installed (Linux and macOS), else asyncio's own.

Every answer the bot sends and every PostgreSQL statement is a round trip through the loop, and on
asyncio's pure-Python loop each costs more CPU than the work it carries. uvloop (libuv, from the
authors of asyncpg) halves it: measured here, one asyncpg round trip went from 88–120 to 40–57 µs of
the bot's CPU, and the Telegram bench's messages a second rose by a fifth (README "Performance").
Nothing in the bot depends on which loop it runs on; without uvloop (Windows, or a build without
it) it runs the same on asyncio's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of the kind the bot serves on."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the bot's kind of loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
