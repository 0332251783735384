"""Which stored answers went out: a local append-only file, folded into the database now and then.

Marking an answer sent is the one write that cannot share the transaction of the change that caused
it, and the time between "Telegram accepted it" and "recorded as sent" is the time in which a crash
makes it go out twice. A database commit there waits for the write lock behind the handlers (on an
opening-day burst, tens of milliseconds); one ``write()`` to a file opened with O_APPEND takes
microseconds and survives the process being killed (the kernel holds it; a power cut may lose the
last lines, and then an answer is sent again, never lost). ``fold`` moves the lines into the outbox
table in one transaction: every few seconds, at start-up before the unsent answers are loaded, and at
shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from reportbot.handlers import delivery
from reportbot.storage.db import Database

log = logging.getLogger(__name__)


class FileJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.folding = path.with_name(path.name + ".folding")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()
        self._folding_lock = asyncio.Lock()

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def __call__(self, *, done: Sequence[int], failed: bool, sending: Sequence[int]) -> None:
        """One write: these answers finished (sent, or failed for good), these started."""
        mark = "F" if failed else "D"
        lines = "".join([f"{mark} {n}\n" for n in done] + [f"S {n}\n" for n in sending])
        if lines:
            os.write(self._fd, lines.encode())

    async def fold(self, db: Database, at: datetime) -> set[int]:
        """Apply every line so far to the outbox table; new lines go to a fresh file meanwhile. The ids of
        the answers recorded as finished (sent or failed). One fold at a time (the periodic one, the one
        after an outage, the one at shutdown): two would apply and unlink the same folding file."""
        async with self._folding_lock:
            finished: set[int] = set()
            if self.folding.exists():  # left by a fold that did not finish
                finished |= await self._apply(db, at)
            os.close(self._fd)  # the swap has no await in it: no line can fall between the two files
            os.replace(self.path, self.folding)
            self._fd = self._open()
            return finished | await self._apply(db, at)

    async def _apply(self, db: Database, at: datetime) -> set[int]:
        sending, done = parse(self.folding.read_text())
        await delivery.record_progress(db, sending=sending, done=done, at=at)
        self.folding.unlink()
        return set(done)

    def close(self) -> None:
        os.close(self._fd)


def parse(text: str) -> tuple[set[int], dict[int, bool]]:
    """(ids that were started, {id: failed} of those that finished); a torn last line is ignored."""
    sending: set[int] = set()
    done: dict[int, bool] = {}
    lines = text.split("\n")[:-1]  # the part after the last newline is a line not finished
    for line in lines:
        mark, _, number = line.partition(" ")
        if not number.isdigit():
            continue
        if mark == "S":
            sending.add(int(number))
        elif mark in ("D", "F"):
            done[int(number)] = mark == "F"
    return sending, done
