"""The outbox journal: progress lines survive the process and fold into the outbox table once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reportbot.bot.journal import FileJournal, parse
from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Incoming
from reportbot.handlers.router import handle_message
from tests.conftest import local
from tests.office import LI, open_office, report_text

NOW = local("2026-11-23 10:00")


def test_a_torn_last_line_is_ignored_and_the_outcome_wins_over_the_start() -> None:
    assert parse("S 1\nD 1\nS 2\nF 3\nS 4\nD 4\n") == ({1, 2, 4}, {1: False, 3: True, 4: False})
    assert parse("S 7\nD 7\nS 8\nD 1") == ({7, 8}, {7: False})  # cut off in the middle of a line


async def test_lines_written_by_a_killed_process_are_folded_by_the_next_one(svc: Services, tmp_path: Path) -> None:
    await open_office(svc)
    msg = Incoming("console", LI, LI, False, report_text(), NOW, "9", "msg:101:9")
    receipt, card = (await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))).to_send
    assert receipt.outbox_id and card.outbox_id
    dead = FileJournal(tmp_path / "outbox.journal")
    await dead(done=(), failed=False, sending=[receipt.outbox_id])
    await dead(done=[receipt.outbox_id], failed=False, sending=[card.outbox_id])  # killed while the card went out
    # (no close, no fold: the process is gone)
    alive = FileJournal(tmp_path / "outbox.journal")
    await alive.fold(svc.db, NOW)
    recovered = await delivery.unsent(svc.db, "console")
    assert [(q.outbox_id, q.was_in_flight) for q in recovered] == [(card.outbox_id, True)]
    await alive(done=[card.outbox_id], failed=False, sending=())
    await alive.fold(svc.db, NOW)
    await alive.fold(svc.db, NOW)  # folding again changes nothing
    assert await delivery.unsent(svc.db, "console") == []
    assert (tmp_path / "outbox.journal").read_text() == "" and not (tmp_path / "outbox.journal.folding").exists()
    alive.close()


async def test_two_folds_at_once_apply_each_line_once(svc: Services, tmp_path: Path) -> None:
    """The periodic fold and the one after an outage may meet: they take turns on the folding file."""
    await open_office(svc)
    msg = Incoming("console", LI, LI, False, report_text(), NOW, "9", "msg:101:9")
    receipt, card = (await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))).to_send
    assert receipt.outbox_id and card.outbox_id
    journal = FileJournal(tmp_path / "outbox.journal")
    await journal(done=(), failed=False, sending=[receipt.outbox_id])
    await journal(done=[receipt.outbox_id], failed=False, sending=[card.outbox_id])
    first, second = await asyncio.gather(journal.fold(svc.db, NOW), journal.fold(svc.db, NOW))
    assert first | second == {receipt.outbox_id}
    assert not (tmp_path / "outbox.journal.folding").exists()
    assert [q.outbox_id for q in await delivery.unsent(svc.db, "console")] == [card.outbox_id]
    journal.close()
