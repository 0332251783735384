"""WeCom's callbacks on disk before anything else (bot/spool.py): nothing taken is lost, order is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from reportbot.bot.spool import Spool

AT = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def frame(n: int) -> dict[str, object]:
    return {"cmd": "aibot_msg_callback", "body": {"msgid": f"m{n}", "text": {"content": f"报备 {n}"}}}


def test_what_was_spooled_and_not_handled_comes_back_in_order_after_a_crash(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "inbox.spool")
    entries = spool.append([("message", frame(n), AT) for n in range(1, 5)])
    spool.done(entries[1].seq)  # the second was handled; the process dies now
    spool.close()

    again = Spool(tmp_path / "inbox.spool")
    left = again.load()
    assert [e.frame["body"]["msgid"] for e in left] == ["m1", "m3", "m4"]  # type: ignore[index]
    assert all(e.received_at == AT and e.kind == "message" for e in left)
    more = again.append([("event", frame(9), AT)])
    assert more[0].seq > max(e.seq for e in left)  # numbers never repeat across a restart


def test_the_file_is_cut_back_once_nothing_waits(tmp_path: Path) -> None:
    path = tmp_path / "inbox.spool"
    spool = Spool(path)
    entries = spool.append([("message", frame(n), AT) for n in range(3)])
    for entry in entries:
        spool.done(entry.seq)
    assert path.read_text() == "" and spool.pending == 0
    spool.append([("message", frame(7), AT)])
    spool.close()
    assert [e.frame["body"]["msgid"] for e in Spool(path).load()] == ["m7"]  # type: ignore[index]


def test_a_line_torn_by_a_crash_mid_write_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "inbox.spool"
    spool = Spool(path)
    spool.append([("message", frame(1), AT)])
    spool.close()
    with path.open("a") as out:
        out.write('{"s":2,"k":"message","f":{"body"')  # never synced, never handled: never taken
    assert [e.seq for e in Spool(path).load()] == [1]


def test_entries_are_counted_pending_before_they_are_written(tmp_path: Path) -> None:
    """The transport writes on a thread: the file must not be cut while a write is under way."""
    spool = Spool(tmp_path / "inbox.spool")
    first = spool.append([("message", frame(1), AT)])
    entries, data = spool.prepare([("message", frame(2), AT)])
    spool.done(first[0].seq)  # handled meanwhile: 2 is pending, so the file is not cut
    spool.write(data)
    spool.close()
    assert [e.seq for e in Spool(tmp_path / "inbox.spool").load()] == [entries[0].seq]
