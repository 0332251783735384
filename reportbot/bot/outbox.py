"""Outgoing messages, one queue per chat: a rate-limited group never holds up a private reply.

Telegram allows about 30 messages a second per bot and 20 a minute per group. The rate limiter
makes a send wait; if the update handler awaited that wait, every other person's update would wait
behind it. So handlers only enqueue, and each chat has its own worker that sends in order.

Answers stored in the database outbox (``handlers.delivery``) carry their row id; the worker then
journals each step: the previous answer's outcome and "sending" for the next one in one commit, so
that after a crash only the one answer a chat had in flight is in doubt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from reportbot.handlers.messages import Action, Delete, Edit, Send

log = logging.getLogger(__name__)

Sender = Callable[[Action], Awaitable[None]]


class Journal(Protocol):
    async def __call__(self, *, done: int | None, failed: bool, sending: int | None) -> None: ...


Item = tuple[Action, int | None]


class Outbox:
    def __init__(self, send: Sender, journal: Journal | None = None) -> None:
        self._send = send
        self._journal = journal
        self._queues: dict[str, asyncio.Queue[Item]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        # Stored answers this process has taken on and not yet seen folded into the outbox table as sent or
        # failed: queued, being sent, or sent with only the journal knowing. After an outage, a stored answer
        # not among them was left behind (transport._after_outage).
        self._held: set[int] = set()

    def put(self, action: Send | Edit | Delete, outbox_id: int | None = None) -> None:
        """Queue an action behind the earlier ones of the same chat; returns at once."""
        chat = action.chat_id
        queue = self._queues.get(chat)
        if queue is None:
            queue = self._queues[chat] = asyncio.Queue()
            self._workers[chat] = asyncio.create_task(self._work(chat, queue), name=f"outbox:{chat}")
        queue.put_nowait((action, outbox_id))
        if outbox_id is not None:
            self._held.add(outbox_id)

    def holds(self, outbox_id: int | None) -> bool:
        return outbox_id in self._held

    def forget(self, outbox_ids: set[int]) -> None:
        """These stored answers are recorded as finished in the outbox table."""
        self._held -= outbox_ids

    async def _work(self, chat: str, queue: asyncio.Queue[Item]) -> None:
        unjournaled: tuple[int, bool] | None = None  # the last stored answer's id and whether it failed
        while True:
            action, outbox_id = await queue.get()
            try:
                if outbox_id is not None or unjournaled is not None:
                    await self._step(unjournaled, outbox_id)
                    unjournaled = None
                failed = False
                try:
                    await self._send(action)
                except Exception:  # one failed message must not stop the chat's queue
                    failed = True
                    log.exception("sending to chat %s failed", chat)
                if outbox_id is not None:
                    unjournaled = (outbox_id, failed)
                    if queue.empty():  # nothing to fold the outcome into: journal it now
                        await self._step(unjournaled, None)
                        unjournaled = None
            except Exception:
                log.exception("journaling the outbox of chat %s failed", chat)
            finally:
                queue.task_done()

    async def _step(self, done: tuple[int, bool] | None, sending: int | None) -> None:
        if self._journal is None:
            return
        await self._journal(done=done[0] if done else None, failed=done[1] if done else False, sending=sending)

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
