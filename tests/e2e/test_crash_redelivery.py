"""Issue 4.1: SIGKILL the real `reportbot run` mid-burst, start it again, and count.

50 canvassers report through telegram-test-api. The bot process is killed with SIGKILL while it is
working through a batch of updates it has not yet confirmed; ``ReplayingBotApi`` then hands those
updates out again, as Telegram does. Afterwards:

* every report a canvasser got a receipt for is stored, and every report sent is stored once;
* every message was handled once (one delivery row each);
* every report got its receipt; a receipt arrives twice only where its outbox row shows it was in
  flight at the kill (sent, then sent again because nothing had recorded that it arrived);
* every report has exactly one group card in the outbox.

CI runs a burst of 250 on each database; the documented long run (docs/faults.md, "Nothing lost, nothing twice")
sets REPORTBOT_CRASH_REPORTS=1000.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import col

from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database
from reportbot.storage.tables import EventRow, ReportRow
from reportbot.storage.transport_tables import DeliveryRow, OutboxRow
from tests.e2e.emulator import Emulator, TgUser, bot_messages, buttons, new_token
from tests.e2e.outage import until
from tests.e2e.replay import ReplayingBotApi

REPORTS = int(os.environ.get("REPORTBOT_CRASH_REPORTS", "250"))
CANVASSERS = 50
GROUP = -1009876543210
SURNAMES = "赵钱孙李周吴郑冯陈卫"
GIVEN = "伟芳娜敏静"
RECEIPT = re.compile(r"回执号：(BB-\d{8}-\d{4})")
ON_CARD = re.compile(r"BB-\d{8}-\d{4}")
PHONE = re.compile(r"\d{3}\*\*\*\d{5}")


def canvasser(i: int) -> tuple[int, str, str]:
    """Telegram id, name, team of the i-th canvasser (five teams)."""
    return 30001 + i, SURNAMES[i % 10] + GIVEN[i // 10], f"{'甲乙丙丁戊'[i % 5]}队"


def report(i: int) -> tuple[int, str]:
    """Who files the i-th report, and its text: every report is a different customer."""
    user, name, team = canvasser(i % CANVASSERS)
    return user, f"报备\n客户：客户{chr(0x4E00 + i)}\n电话：139***{i:05d}\n队名：{team}\n拓客：{name}\n到访：明天下午3点"


def _no_digests(where: Path) -> Path:
    policy = where / "policy.toml"
    policy.write_text('digest_time = "23:59:59"\nweekly_digest = false\n', encoding="utf-8")
    return policy


async def start_bot(db_url: str, token: str, api: ReplayingBotApi, log: Path) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_BASE_URL": api.base_url,
        "TELEGRAM_POLL_INTERVAL": "0.02",
        "DATABASE_URL": db_url,
        "DATA_DIR": str(log.parent / "data"),  # the outbox journal: this bot's own, across its restart
        "LOG_LEVEL": "WARNING",
        # A real `reportbot run` keeps the real time: no evening digest may come between the answers.
        "REPORTBOT_POLICY": str(_no_digests(log.parent)),
    }
    code = "import sys; from reportbot.bot.cli import main; sys.exit(main(['run']))"
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, env=env, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT
    )


async def test_a_bot_killed_mid_burst_loses_nothing_and_doubles_nothing(
    emulator: Emulator, db_url: str, tmp_path: Path
) -> None:
    db = Database(db_url)
    now = datetime.now(UTC)
    await directory.add_project(db, "江湾壹号", str(GROUP), None, now)
    await directory.add_staff(db, NewStaff("孙助理", "案场", "assistant", "30999", project="江湾壹号"), now)
    for i in range(CANVASSERS):
        user, name, team = canvasser(i)
        await directory.add_staff(db, NewStaff(name, team, "canvasser", str(user), project="江湾壹号"), now)
    token, log = new_token(), tmp_path / "bot.log"
    people = {canvasser(i)[0]: TgUser(emulator, token, canvasser(i)[0], canvasser(i)[1]) for i in range(CANVASSERS)}

    async with ReplayingBotApi(emulator.url) as api:
        bot = await start_bot(db_url, token, api, log)
        try:
            async def canvasser_sends(i: int) -> None:  # each canvasser files its reports one after another
                for n in range(i, REPORTS, CANVASSERS):
                    user, text = report(n)
                    await people[user].say(user, text)

            burst = asyncio.gather(*(canvasser_sends(i) for i in range(CANVASSERS)))
            # Kill while a batch is being worked through: some of it recorded, some answered, some neither.
            # The bot records a report in about a millisecond, so the batch is confirmed long before its
            # answers are all out: the first answer is the sign, watched closely.
            await until(lambda: api.sent_messages >= 1 and bool(api.unconfirmed), 120,
                        "the bot to be in the middle of the burst", log, every=0.005)
            bot.send_signal(signal.SIGKILL)
            await bot.wait()
            in_doubt_at_kill = len(api.unconfirmed)
            api.crashed()
            bot = await start_bot(db_url, token, api, log)
            await burst

            async def all_receipts_out() -> bool:
                return await _private_receipts(emulator, token) >= REPORTS

            await until(all_receipts_out, 180, f"{REPORTS} receipts", log)
            await until(lambda: not api.unconfirmed, 30, "every update to be confirmed", log)
            on_cards, presses = await _decided_on_the_cards(emulator, token, db, TgUser(emulator, token, 30999, "孙助理"), log)
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(bot.wait(), 20)
                except TimeoutError:
                    bot.kill()

    assert in_doubt_at_kill > 0 and api.redelivered, "the kill must leave updates to redeliver"
    async with db.uow(write=False) as uow:
        rows = (await uow.session.execute(select(ReportRow.phone, ReportRow.receipt_no))).all()
        deliveries = (await uow.session.execute(select(func.count()).select_from(DeliveryRow))).scalar_one()
        outbox = (await uow.session.execute(select(OutboxRow.chat_id, OutboxRow.payload, OutboxRow.attempts,
                                                   OutboxRow.state))).all()
        decided = Counter((await uow.session.execute(
            select(ReportRow.receipt_no).join(EventRow, col(EventRow.report_id) == col(ReportRow.id))
            .where(col(EventRow.kind) == "confirmed"))).scalars())
    await db.dispose()

    stored = {phone: receipt for phone, receipt in rows}
    assert len(rows) == len(stored) == REPORTS  # every report stored, none twice
    assert set(stored) == {f"139***{i:05d}" for i in range(REPORTS)}
    assert deliveries == REPORTS + presses  # each message and each press handled once, redelivered or not

    receipts: dict[str, list[str]] = defaultdict(list)  # phone → receipt numbers that reached the canvasser
    for message in await bot_messages(emulator, token):
        if message["chat_id"] > 0 and RECEIPT.search(message["text"]):  # not the notices of the decisions
            receipts[PHONE.search(message["text"])[0]].append(RECEIPT.search(message["text"])[1])  # type: ignore[index]
    assert set(receipts) == set(stored)
    wrong = {phone: (got, stored[phone]) for phone, got in receipts.items() if set(got) != {stored[phone]}}
    assert not wrong, wrong  # each canvasser was given the stored receipt, no other

    resent = Counter(PHONE.search(payload)[0] for chat, payload, attempts, _ in outbox  # type: ignore[index]
                     if int(chat) > 0 and attempts > 1)
    twice = {phone: len(got) for phone, got in receipts.items() if len(got) > 1}
    assert all(count == 2 and resent[phone] == 1 for phone, count in twice.items()), (twice, resent)
    assert len(twice) <= CANVASSERS  # at most the one answer each chat had in flight

    assert on_cards == set(stored.values())  # every report on a card in the group, gathered or single
    assert decided == Counter(stored.values())  # each decided once, on whichever card was its live one
    cards = Counter(PHONE.search(payload)[0] for chat, payload, _, _ in outbox  # type: ignore[index]
                    if int(chat) == GROUP and json.loads(payload)["t"] == "send")
    assert cards == Counter(stored.keys())  # exactly one card per report (the cards, not the edits of decisions)
    failed = [(chat, payload[:80]) for chat, payload, _, state in outbox if state not in ("sent", "pending", "sending")]
    assert not failed, f"{failed}\nbot log:\n{log.read_text()[-6000:]}"
    print(f"\n{REPORTS} reports on {presses} cards: {in_doubt_at_kill} updates unconfirmed at the kill, {len(api.redelivered)} redelivered, "
          f"{sum(resent.values())} answers in flight resent, {len(twice)} receipts arrived twice")


async def _private_receipts(emulator: Emulator, token: str) -> int:
    phones = {PHONE.search(m["text"])[0] for m in await bot_messages(emulator, token)  # type: ignore[index]
              if m["chat_id"] > 0 and RECEIPT.search(m["text"])}
    return len(phones)


async def _decided_on_the_cards(
    emulator: Emulator, token: str, db: Database, assistant: TgUser, log: Path
) -> tuple[set[str], int]:
    """Every report reaches the group on a card — one by one while the group's line kept up with its 20 a
    minute, gathered once it fell behind, a card in flight at the kill sent again gathered — and the assistant
    decides them all there: 确认 on each single card, 全部确认 on each gathered one (on a card a report moved
    from, that confirms only what is still live on it). The receipt numbers on the group's cards, and how
    many presses."""
    async def in_group() -> list[dict]:
        return await bot_messages(emulator, token, GROUP)

    async def all_on_cards() -> bool:
        return len({n for m in await in_group() for n in ON_CARD.findall(m["text"])}) >= REPORTS

    await until(all_on_cards, 180, "every report on a card in the group", log)
    presses = 0
    for message in await in_group():
        labels = [label for label, _ in buttons(message)]
        if "全部确认" in labels or "确认" in labels:
            await assistant.click(message, "全部确认" if "全部确认" in labels else "确认")
            presses += 1

    async def all_confirmed() -> bool:
        async with db.uow(write=False) as uow:
            statuses = (await uow.session.execute(select(ReportRow.status))).scalars().all()
        return len(statuses) == REPORTS and all(s == "confirmed" for s in statuses)

    await until(all_confirmed, 60, "every report confirmed on its card", log)
    return {n for m in await in_group() for n in ON_CARD.findall(m["text"])}, presses
