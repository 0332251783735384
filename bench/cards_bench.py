"""Gathered cards (issue 24): an opening morning's burst into one project's group, under each channel's limits.

600 reports from 200 canvassers, evenly over 60 s, into one project, through the bot as `reportbot run` runs
it with the production limiter: Telegram's (the real PTB application on telegram-test-api, 20 messages a
minute per group) and WeCom's (`reportbot run` against the WeCom fake of the tests, 30 a minute per
conversation). Figures: receipt latency, the time from a report's receipt until it is on a card in the group
(goal p99 < 60 s), how many messages the group got, and that the assistant decided every report through the
cards (全部确认 on each gathered card, 确认 on each single one, 确认所选 on WeCom where a card lists its reports).
One run of each: the figures are minutes long.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.common import ROOT, Row, Stat, percentile
from bench.telegram_bot import BotSpec, bot_on_emulator, serve_command
from bench.telegram_office import Databases, Office, burst
from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database
from reportbot.storage.migrate import upgrade
from tests.e2e.emulator import TgUser, bot_messages, buttons
from tests.fakes.tls import make_certificates
from tests.fakes.wecom_server import FakeWeCom

REPORTS, SECONDS, CANVASSERS = 600, 60.0, 200
ASSISTANT = 9999
PHONE = re.compile(r"138\*\*\*(\d{5})")
SECTION = "gathered cards"


@dataclass
class Figures:
    receipts_ms: list[float]  # send → receipt
    on_card_s: list[float]  # receipt → the first group message the report is on
    group_messages: int
    gathered: int  # group messages that gathered several reports
    presses: int  # presses it took to decide every report
    decided: int  # reports confirmed through the cards (one event each)


def _on_cards(texts: list[tuple[float, str]]) -> dict[int, float]:
    """Report number → when it was first on a group message."""
    first: dict[int, float] = {}
    for at, text in sorted(texts):
        for n in PHONE.findall(text):
            first.setdefault(int(n), at)
    return first


def _confirmed(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM event WHERE kind = 'confirmed'").fetchone()[0])


async def _until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench: still waiting for {what} after {timeout:.0f} s")
        await asyncio.sleep(0.5)


# ----------------------------------------------------------------------------- Telegram


async def telegram_run(root: Path, reports: int, seconds: float) -> Figures:
    office = Office.of(projects=1, canvassers=CANVASSERS)
    folder = root / "cards-telegram"
    folder.mkdir()
    url = await Databases(office, folder).fresh()
    db = Database(url)
    await directory.add_staff(db, NewStaff("孙助理", "案场", "assistant", str(ASSISTANT), project=f"楼盘{office.groups[0]}"),
                              datetime.now().astimezone())
    await db.dispose()
    path = Path(url.split("///", 1)[1])
    spec = BotSpec("reportbot", production_limiter=True, db_url=url)
    messages = [office.report(n) for n in range(reports)]
    private, group = [p.user_id for p in office.people], office.groups[0]
    async with bot_on_emulator(serve_command(spec), folder / "bot.log") as session:
        people, emulator = session.people, session.emulator
        assert emulator is not None
        sent = await burst(people, messages, spacing=seconds / reports)
        await people.wait(private, reports, timeout=120)

        def all_on_cards() -> bool:
            return len(_on_cards(people.arrivals.all([group]))) >= reports

        deadline = time.monotonic() + 600
        while not all_on_cards() and time.monotonic() < deadline:
            await people.collect([group])
            await asyncio.sleep(1.0)
        assistant, presses = TgUser(emulator, people.token, ASSISTANT, "孙助理"), 0
        for message in await bot_messages(emulator, people.token, group):
            labels = [label for label, _ in buttons(message)]
            if "全部确认" in labels or "确认" in labels:
                await assistant.click(message, "全部确认" if "全部确认" in labels else "确认")
                presses += 1
        await _until(lambda: _confirmed(path) >= reports, 20, "every report confirmed")
        group_texts = people.arrivals.all([group])
    receipts = {int(PHONE.findall(text)[0]): at for at, text in people.arrivals.all(private) if "回执号" in text}
    on_card = _on_cards(group_texts)
    return Figures(
        [(receipts[n] - sent[n]) * 1000 for n in range(reports)],
        [on_card[n] - receipts[n] for n in range(reports)],
        len(group_texts),
        sum(1 for _, text in group_texts if len(PHONE.findall(text)) > 1),
        presses,
        _confirmed(path),
    )


# ----------------------------------------------------------------------------- WeCom


async def wecom_run(root: Path, reports: int, seconds: float) -> Figures:
    folder = root / "cards-wecom"
    folder.mkdir()
    path = folder / "ledger.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(upgrade, url)
    db, now, chat = Database(url), datetime.now().astimezone(), "wrBenchGroup"
    office = Office.of(projects=1, canvassers=CANVASSERS)
    await directory.add_project(db, "森林半岛", None, chat, now)
    staff = [NewStaff(p.name, p.team, "canvasser", wecom_id=f"u{p.user_id}", project="森林半岛") for p in office.people]
    staff.append(NewStaff("孙助理", "案场", "assistant", wecom_id="assistant", project="森林半岛"))
    await directory.import_staff(db, list(enumerate(staff, start=2)), now)
    await db.dispose()
    certificates = make_certificates(folder)
    async with FakeWeCom(certificates.server_context()) as wecom:
        env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": "", "WECOM_BOT_ID": wecom.bot_id,
               "WECOM_BOT_SECRET": wecom.secret, "WECOM_WS_URL": wecom.url, "WECOM_CA_FILE": str(certificates.ca_file),
               "REPORTBOT_POLICY": "", "LOG_LEVEL": "WARNING", "DATA_DIR": str(folder / "data"),
               "PYTHONPATH": str(ROOT)}
        with (folder / "bot.log").open("wb") as log:
            bot = await asyncio.create_subprocess_exec(sys.executable, "-m", "reportbot.bot.cli", "run", env=env,
                                                       cwd=folder, stdin=asyncio.subprocess.DEVNULL, stdout=log,
                                                       stderr=asyncio.subprocess.STDOUT)
        try:
            await wecom.wait_subscribed()
            start, sent, calls = time.monotonic(), [], []
            for n in range(reports):
                await asyncio.sleep(max(0.0, start + n * seconds / reports - time.monotonic()))
                person, text = office.report(n)
                sent.append(time.time())
                calls.append(await wecom.user_says(f"u{person.user_id}", text))

            def cards() -> list:  # type: ignore[type-arg]
                return [s for s in wecom.to(chat) if s.cmd == "aibot_send_msg"]

            await _until(lambda: all(wecom.answers(c) for c in calls), 120, "every receipt")
            await _until(lambda: len(_on_cards([(s.at, s.text) for s in cards()])) >= reports, 600, "every card")
            presses = 0
            for card in cards():
                if "全部确认" in card.buttons or "确认" in card.buttons:
                    await wecom.press("assistant", card, "全部确认" if "全部确认" in card.buttons else "确认")
                    presses += 1
            await _until(lambda: _confirmed(path) >= reports, 120, "every report confirmed")
            receipts = [min(s.at for s in wecom.answers(c)) for c in calls]
            group = [(s.at, s.text) for s in cards()]
        finally:
            bot.terminate()
            await bot.wait()
    on_card = _on_cards(group)
    return Figures(
        [(receipts[n] - sent[n]) * 1000 for n in range(reports)],
        [on_card[n] - receipts[n] for n in range(reports)],
        len(group),
        sum(1 for _, text in group if len(PHONE.findall(text)) > 1),
        presses,
        _confirmed(path),
    )


# ----------------------------------------------------------------------------- rows


def _rows(channel: str, limit: str, figures: Figures, reports: int, seconds: float) -> list[Row]:
    note = (f"{channel}: {reports} reports from {CANVASSERS} canvassers into one project, evenly over {seconds:.0f} s; "
            f"{limit}; one run")
    one = Stat.of
    return [
        Row(SECTION, f"{channel}: receipt latency p50", one([percentile(figures.receipts_ms, 50)]), "ms", note=note,
            higher_is_better=False),
        Row(SECTION, f"{channel}: receipt latency p99", one([percentile(figures.receipts_ms, 99)]), "ms",
            goal="< 100 ms", note=note, higher_is_better=False),
        Row(SECTION, f"{channel}: receipt → on a card in the group, p50", one([percentile(figures.on_card_s, 50)]), "s",
            note=note, higher_is_better=False),
        Row(SECTION, f"{channel}: receipt → on a card in the group, p99", one([percentile(figures.on_card_s, 99)]), "s",
            goal="< 60 s", note=note, higher_is_better=False),
        Row(SECTION, f"{channel}: receipt → on a card in the group, max", one([max(figures.on_card_s)]), "s",
            note=note, higher_is_better=False),
        Row(SECTION, f"{channel}: messages in the group for {reports} reports", one([figures.group_messages]), "",
            note=f"{figures.gathered} of them gathered cards; {note}", higher_is_better=False),
        Row(SECTION, f"{channel}: reports decided through the cards", one([figures.decided]), "",
            goal=f"= {reports}", note=f"{figures.presses} presses (全部确认 / 确认); {note}"),
    ]


async def run(long: bool) -> list[Row]:
    root = Path(os.environ.get("BENCH_TMP") or "/tmp") / f"bench-cards-{os.getpid()}"
    root.mkdir(parents=True)
    try:
        telegram = await telegram_run(root, REPORTS, SECONDS)
        wecom = await wecom_run(root, REPORTS, SECONDS)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return [
        *_rows("Telegram", "production limiter (30/s overall, 20 a minute per group), cards of at most 20", telegram,
               REPORTS, SECONDS),
        *_rows("WeCom", "WeCom's 30 a minute per conversation, paced, cards of at most 10 (its list's limit)", wecom,
               REPORTS, SECONDS),
    ]
