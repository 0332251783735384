"""A local spool of incoming callbacks: on disk, synced, before anything else is done with them.

WeCom hands a message callback to the robot once. Its re-sending covers a dropped connection, not a
robot that took the message and then could not record it — so a message the database could not take
(down, locked, disk full) would be lost. Every callback is therefore appended here and ``fsync``'d
first; only then is it handled, in the order it came, and marked done once handled and committed. A
callback that waits for the database waits here; one the process was killed over is handled at the
next start, before any new one. Handling twice is harmless: its delivery key (WeCom's msgid) makes the
second time a no-op (handlers/delivery.py).

The file is JSON lines: ``{"s": seq, "k": kind, "f": frame, "t": received}`` for a callback and
``{"d": seq}`` once it is handled. A torn last line (a crash mid-write) is ignored: it was never synced,
so nothing had been done with it. When nothing is pending the file is cut back to empty.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spooled:
    seq: int
    kind: str  # message | event
    frame: dict[str, Any]
    received_at: datetime  # aware UTC: when the callback arrived (a report's time is its arrival)


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if created:  # the new name itself must survive a power cut
            _sync_directory(path.parent)
        self._pending: set[int] = set()
        self._next = 1

    def load(self) -> list[Spooled]:
        """What is spooled and not yet handled, in order (at start, before anything is appended)."""
        entries: dict[int, Spooled] = {}
        done: set[int] = set()
        text = self.path.read_text("utf-8") if self.path.exists() else ""
        for line in text.split("\n")[:-1]:  # after the last newline: a line never finished
            try:
                record = json.loads(line)
            except ValueError:
                log.warning("spool %s: an unreadable line skipped", self.path)
                continue
            if "d" in record:
                done.add(int(record["d"]))
            else:
                entries[int(record["s"])] = Spooled(int(record["s"]), record["k"], record["f"],
                                                   datetime.fromisoformat(record["t"]))
        self._next = max([*entries, *done, 0]) + 1
        left = [entries[s] for s in sorted(entries) if s not in done]
        self._pending = {e.seq for e in left}
        if not left:
            self._cut()
        return left

    def prepare(self, callbacks: list[tuple[str, dict[str, Any], datetime]]) -> tuple[list[Spooled], bytes]:
        """Number the callbacks and count them pending; the entries and the bytes ``write`` must put on disk.

        Called on the event loop's thread, like ``done``: the file is never cut while a write is under way.
        """
        entries = []
        lines = []
        for kind, frame, received_at in callbacks:
            entry = Spooled(self._next, kind, frame, received_at)
            self._next += 1
            entries.append(entry)
            lines.append(json.dumps({"s": entry.seq, "k": kind, "f": frame, "t": received_at.isoformat()},
                                    ensure_ascii=False, separators=(",", ":")) + "\n")
        self._pending.update(e.seq for e in entries)
        return entries, "".join(lines).encode()

    def write(self, data: bytes) -> None:
        """Append and sync (blocking: run it on a thread). Only after it returns may the entries be handled."""
        os.write(self._fd, data)
        os.fsync(self._fd)

    def append(self, callbacks: list[tuple[str, dict[str, Any], datetime]]) -> list[Spooled]:
        """``prepare`` and ``write`` in one, on this thread."""
        entries, data = self.prepare(callbacks)
        self.write(data)
        return entries

    def done(self, seq: int) -> None:
        """``seq`` was handled and committed (no sync: if this line is lost, handling it again is a no-op)."""
        self._pending.discard(seq)
        if self._pending:
            os.write(self._fd, f'{{"d":{seq}}}\n'.encode())
        else:
            self._cut()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _cut(self) -> None:
        os.ftruncate(self._fd, 0)

    def close(self) -> None:
        os.close(self._fd)


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
