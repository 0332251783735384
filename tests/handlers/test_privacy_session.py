"""Privacy (issue 4 §3): after a session that used full numbers everywhere, none is stored, logged or echoed.

The session types whole numbers into a report, its note, a follow-up, /who, /visit, /revoke and a group
message, with LOG_LEVEL=DEBUG and LOG_FORMAT=json. Then the SQLite file and its WAL (or a pg_dump of the
PostgreSQL database), the logs and every reply are searched for the numbers.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from reportbot.bot.logs import configure_logging
from reportbot.handlers.context import Services
from reportbot.handlers.messages import Edit, Send
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, open_office

FULL = "13812388888"  # the customer's number
OTHER = "13987654321"  # a relative's number, typed into free text
# Spellings that would betray a number: as stored by a careless program, and as typed in the session.
NEEDLES = [FULL, OTHER, "138 1238 8888", "139-8765-4321"]

SESSION: list[tuple[str, str, str | None]] = [
    (LI, f"报备\n客户：张先生\n电话：{FULL}\n队名：飞虎队\n拓客：李四\n到访：明天下午3点\n备注：她女儿电话{OTHER}", None),
    (WANG, "报备 钱女士 +86 139-8765-4321 猛虎队 王五 明天下午4点", GROUP),
    (LI, f"/follow BB-20261123-0001 客户说改用{OTHER}联系", None),
    (ZHAO, f"/who {FULL}", None),
    (ZHAO, f"/who 张先生{OTHER}", None),
    (ZHAO, f"/visit {FULL} 同行：1", None),
    (CHEN, f"/revoke {FULL} 原因：客户投诉，回拨{OTHER} 接手：王五 队名：猛虎队", None),
    (CHEN, f"/claim {OTHER} 拓客：王五 证据：{OTHER}的聊天记录 时间：09:00", None),
    (ZHAO, f"/{FULL}", None),
    (LI, f"{FULL} 这个客户怎么样了", GROUP),
]


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", "json", 5, stream)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def betrayed(data: str | bytes) -> list[str]:
    """The needles found in the data (bytes are searched as UTF-8)."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return [needle for needle in NEEDLES if needle in text]


async def stored_bytes(svc: Services) -> bytes:
    """The SQLite file with its WAL and shared memory, or a plain pg_dump of the PostgreSQL database."""
    url = make_url(svc.db.url)
    if svc.db.is_sqlite:
        path = Path(url.database or "")
        return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = await asyncio.to_thread(
        subprocess.run, ["pg_dump", "--data-only", "--inserts", dsn], capture_output=True, check=True
    )
    return dump.stdout


async def test_no_full_number_is_stored_logged_or_echoed_after_a_session(svc: Services, json_logs: io.StringIO) -> None:
    await open_office(svc)
    chat = Chat(svc)
    replies: list[str] = []
    for user, text, group in SESSION:
        actions = await chat.say(user, text, group=group)
        replies += [a.text for a in actions if isinstance(a, Send | Edit)]
    assert any("报备已登记" in r for r in replies) and any("归属" in r for r in replies)
    assert betrayed("\n".join(replies)) == []
    database = await stored_bytes(svc)
    assert b"138***88888" in database and "张先生".encode() in database  # the search does see the data
    assert betrayed(database) == []
    logs = json_logs.getvalue()
    assert logs.count('"message in"') == len(SESSION)  # each message was logged, its text included
    assert all(isinstance(json.loads(line), dict) for line in logs.splitlines())
    assert betrayed(logs) == []


def test_the_real_console_with_debug_json_logs_keeps_no_full_number(tmp_path: Path) -> None:
    """`reportbot console` as a person runs it, LOG_LEVEL=DEBUG LOG_FORMAT=json, SQLite file and WAL searched."""
    script = "!clock 2026-11-23 10:00\n" + "".join(
        (f"#{group} " if group else "") + f"@{user} {text.replace(chr(10), chr(92) + 'n')}\n"
        for user, text, group in SESSION
    )
    db = tmp_path / "ledger.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{db}", "TELEGRAM_BOT_TOKEN": "", "REPORTBOT_POLICY": "",
           "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json", "PHONE_HASH_KEY": "a-test-key-of-enough-length"}
    result = subprocess.run([sys.executable, "-m", "reportbot.bot.cli", "console", "--demo"], input=script,
                            check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    answers = [line for line in result.stdout.splitlines() if not line.startswith("<< ")]
    assert any("报备已登记" in line for line in answers)
    assert betrayed("\n".join(answers)) == []
    logs = result.stderr.splitlines()
    assert sum('"message in"' in line for line in logs) == len(SESSION)
    assert all(isinstance(json.loads(line), dict) for line in logs)
    assert betrayed(result.stderr) == []
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    assert b"138***88888" in stored and betrayed(stored) == []
