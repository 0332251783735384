"""Day one (issue 27): `reportbot import reports` of a 10,000-row workbook, on SQLite and PostgreSQL.

The goal is under 10 s for 10,000 rows. Each run imports the same workbook (made here with openpyxl, as an
office's ledger: Excel dates, a few text dates, full-width digits, a title above the header) into a new,
migrated database with the office registered; the figure is the whole use case as the command runs it:
reading the file, checking every row, planning, and recording the reports, their events (hash-chained),
visits and reminders in one transaction. Reading the workbook alone (openpyxl) is shown as the floor.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.common import Row, Stat
from bench.storage_bench import POSTGRES, SQLITE, database
from reportbot.documents.sheet_file import read_table
from reportbot.handlers import directory
from reportbot.handlers.context import Services
from reportbot.handlers.directory import NewStaff
from reportbot.handlers.import_reports import import_reports
from reportbot.handlers.render import Renderer
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade

SECTION = "import"
ROWS, RUNS = 10_000, 3
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=TZ)
TEAMS = ("飞虎队", "猛虎队", "雄鹰队", "海燕队")
NAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
POLICY = Policy()


def workbook(rows: int = ROWS) -> bytes:
    """An office's ledger of ``rows`` reports over the last 90 days, every customer distinct."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["森林半岛渠道报备台账"])
    ws.merge_cells("A1:H1")
    ws.append(["客户", "电话", "队名", "拓客", "报备时间", "预约到访时间", "状态", "备注"])
    start = (NOW - timedelta(days=90)).replace(tzinfo=None)
    for n in range(rows):
        at = start + timedelta(minutes=12 * n)  # 10,000 rows over 83 days
        team = TEAMS[n % len(TEAMS)]
        reported: object = at if n % 10 else f"{at:%Y/%-m/%-d %H:%M}"  # one in ten written as text
        phone = f"13{n % 10}***{n:05d}" if n % 7 else f"１３{n % 10}＊＊＊{n:05d}"  # some in full-width digits
        status = "已到访" if n % 50 == 0 else "有效"
        ws.append([NAMES[n % 16] + "先生", phone, team, f"{team[0]}{NAMES[n % 16]}", reported,
                   at + timedelta(days=1), status, "带父母 " if n % 3 == 0 else None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _office(url: str) -> None:
    db = Database(url)
    try:
        when = NOW - timedelta(days=400)
        await directory.add_project(db, "森林半岛", "-1001234", None, when)
        await directory.add_staff(db, NewStaff("陈经理", "案场", "manager", "900", project="森林半岛"), when)
        people = {(team, f"{team[0]}{name}") for team in TEAMS for name in NAMES}
        for n, (team, name) in enumerate(sorted(people)):
            await directory.add_staff(db, NewStaff(name, team, "canvasser", str(1000 + n), project="森林半岛"), when)
    finally:
        await db.dispose()


async def _one_import(kind: str, data: bytes, tmp: Path) -> float:
    async with database(kind, 0, tmp) as url:
        if kind == SQLITE:
            Path(url.split("///", 1)[1]).unlink(missing_ok=True)
        await asyncio.to_thread(upgrade, url)
        await _office(url)
        svc = Services(db=Database(url), render=Renderer(POLICY.timezone), policy=POLICY)
        try:
            started = time.perf_counter()
            result = await import_reports(svc, "森林半岛", "台账.xlsx", data, "陈经理", NOW, dry_run=False)
            elapsed = time.perf_counter() - started
        finally:
            await svc.db.dispose()
        assert result.done and len(result.plan.planned) == ROWS, result  # type: ignore[union-attr]
        return elapsed


async def run(long: bool) -> list[Row]:
    data = workbook()
    reads = []
    for _ in range(RUNS):
        started = time.perf_counter()
        read_table(data, "台账.xlsx")
        reads.append(time.perf_counter() - started)
    rows = [Row(SECTION, f"reading a {ROWS:,}-row workbook (openpyxl, merged cells filled)", Stat.of(reads), "s",
                note=f"{len(data) / 1024:.0f} KB .xlsx; {RUNS} runs", higher_is_better=False)]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in (SQLITE, POSTGRES):
            times = [await _one_import(kind, data, Path(tmp)) for _ in range(RUNS)]
            rows.append(Row(SECTION, f"import reports, {ROWS:,} rows — {kind}", Stat.of(times), "s",
                            "reading the workbook", Stat.of(reads), goal="< 10 s",
                            note=f"{RUNS} runs, each into a new database: read, check, plan, record in one "
                                 "transaction (reports, chained events, visits, reminders)",
                            higher_is_better=False))
    return rows
