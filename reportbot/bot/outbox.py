"""Outgoing messages, one queue per chat: a rate-limited group never holds up a private reply.

Telegram allows about 30 messages a second per bot and 20 a minute per group. The rate limiter
makes a send wait; if the update handler awaited that wait, every other person's update would wait
behind it. So handlers only enqueue, and each chat has its own worker that sends in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from reportbot.handlers.messages import Action, Delete, Edit, Send

log = logging.getLogger(__name__)

Sender = Callable[[Action], Awaitable[None]]


class Outbox:
    def __init__(self, send: Sender) -> None:
        self._send = send
        self._queues: dict[str, asyncio.Queue[Action]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def put(self, action: Send | Edit | Delete) -> None:
        """Queue an action behind the earlier ones of the same chat; returns at once."""
        chat = action.chat_id
        queue = self._queues.get(chat)
        if queue is None:
            queue = self._queues[chat] = asyncio.Queue()
            self._workers[chat] = asyncio.create_task(self._work(chat, queue), name=f"outbox:{chat}")
        queue.put_nowait(action)

    async def _work(self, chat: str, queue: asyncio.Queue[Action]) -> None:
        while True:
            action = await queue.get()
            try:
                await self._send(action)
            except Exception:  # one failed message must not stop the chat's queue
                log.exception("sending to chat %s failed", chat)
            finally:
                queue.task_done()

    async def drain(self) -> None:
        """Wait until everything queued so far has been sent (or has failed)."""
        await asyncio.gather(*(q.join() for q in list(self._queues.values())))

    async def close(self, timeout: float | None = 30.0) -> None:
        """Send what is queued (waiting at most ``timeout`` seconds), then stop the workers."""
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            log.warning("stopping with %d messages unsent", sum(q.qsize() for q in self._queues.values()))
        for task in self._workers.values():
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._queues.clear()
        self._workers.clear()
