"""/forget (SPEC §9, issue 4 §3): a manager erases a customer's name and phone; the anonymous skeleton stays."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from reportbot.handlers.audit import verify_chain
from reportbot.handlers.context import Services
from reportbot.handlers.render import Renderer
from reportbot.rules.model import Status
from reportbot.rules.policy import Policy
from reportbot.storage.db import Database
from reportbot.storage.tables import EventRow, ReportRow, VisitRow
from tests.conftest import TEST_PHONE_KEY
from tests.office import CHEN, GROUP, LI, WANG, ZHAO, Chat, only, open_office, report_text

FULL = "13812388888"
PERSONAL = ["张先生", "138***88888", FULL, "老客户介绍", "周末带父母来", "截客"]


async def a_customer_with_a_history(svc: Services) -> Chat:
    """张先生 reported with his full number and a note, confirmed, a duplicate, a follow-up, a visit, a revoke."""
    await open_office(svc)
    chat = Chat(svc)
    card = only(await chat.say(LI, report_text(phone=FULL, extra="\n备注：老客户介绍")), GROUP)
    await chat.press(ZHAO, card, "确认")
    await chat.say(WANG, report_text(team="猛虎队", who="王五"))
    await chat.say(LI, "/follow BB-20261123-0001 周末带父母来")
    await chat.say(WANG, report_text(customer="钱女士", phone="139***12345", team="猛虎队", who="王五"))
    await chat.at("2026-11-24 15:00").say(ZHAO, f"/visit {FULL}")
    await chat.say(CHEN, "/revoke 138***88888 原因：截客 接手：王五 队名：猛虎队")
    return chat


async def all_text(svc: Services) -> str:
    """Every value of every row of every table, as one string."""
    values: list[str] = []
    async with svc.db.uow(write=False) as uow:
        for table in SQLModel.metadata.sorted_tables:
            for row in (await uow.session.execute(select(table))).all():
                values.extend(str(v) for v in row)
    return "\n".join(values)


async def skeleton(svc: Services) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[object, ...]]]:
    async with svc.db.uow(write=False) as uow:
        reports = (await uow.session.execute(
            select(ReportRow.id, ReportRow.receipt_no, ReportRow.team, ReportRow.status, ReportRow.reported_at,
                   ReportRow.canvasser_id).order_by(ReportRow.id))).all()
        events = (await uow.session.execute(
            select(EventRow.id, EventRow.kind, EventRow.actor_id, EventRow.at, EventRow.report_id).order_by(EventRow.id)
        )).all()
        visits = (await uow.session.execute(select(VisitRow.id, VisitRow.at, VisitRow.owner_id, VisitRow.rule))).all()
    return [tuple(r) for r in reports], [tuple(e) for e in events], [tuple(v) for v in visits]


async def test_forget_first_shows_what_would_go_and_changes_nothing(svc: Services) -> None:
    chat = await a_customer_with_a_history(svc)
    before = await all_text(svc)
    answer = only(await chat.say(CHEN, "/forget 138***88888"), CHEN).text
    assert "报备1份" in answer and "到访1次" in answer and "跟进1条" in answer
    assert "/forget 138***88888 确认" in answer
    assert await all_text(svc) == before


async def test_forget_erases_name_phone_hash_and_free_text_and_keeps_the_skeleton(svc: Services) -> None:
    chat = await a_customer_with_a_history(svc)
    reports, events, visits = await skeleton(svc)
    done = only(await chat.at("2026-11-25 10:00").say(CHEN, "/forget 138***88888 确认"), CHEN).text
    assert "已删除客户的姓名和电话" in done
    text = await all_text(svc)
    for value in PERSONAL:
        assert value not in text, value
    assert "钱女士" in text and "139***12345" in text  # another customer is untouched
    after_reports, after_events, after_visits = await skeleton(svc)
    assert after_reports == reports and after_visits == visits
    assert after_events[:-1] == events
    forgot = after_events[-1]
    assert forgot[1] == "forgotten" and forgot[2] == 4  # 陈经理, the manager who asked
    async with svc.db.uow(write=False) as uow:
        hashes = list((await uow.session.execute(select(ReportRow.phone_hash))).scalars())
    assert hashes == [None, None]


async def test_the_audit_chain_still_verifies_after_a_forget(svc: Services) -> None:
    chat = await a_customer_with_a_history(svc)
    await chat.say(CHEN, "/forget BB-20261123-0001 确认")
    [(_, count, problem)] = await verify_chain(svc.db)
    assert problem is None and count == 8


async def test_the_receipt_still_tells_the_anonymous_story(svc: Services) -> None:
    chat = await a_customer_with_a_history(svc)
    await chat.say(CHEN, "/forget 138***88888 确认")
    who = only(await chat.say(ZHAO, "/who BB-20261123-0001"), ZHAO).text
    assert "（已删除）" in who and "李四" in who and "已到访" in who and "应客户要求删除姓名和电话" in who
    assert "张先生" not in who and "周末带父母来" not in who
    again = only(await chat.say(CHEN, "/forget BB-20261123-0001 确认"), CHEN).text
    assert "已删除" in again and "无需再次删除" in again


async def test_after_a_forget_the_number_is_a_new_customer(svc: Services) -> None:
    chat = await a_customer_with_a_history(svc)
    await chat.say(CHEN, "/forget 138***88888 确认")
    receipt = only(await chat.at("2026-11-24 16:00").say(WANG, report_text(team="猛虎队", who="王五")), WANG).text
    assert "报备已登记" in receipt
    async with svc.db.uow(write=False) as uow:
        active = await uow.reports.active_for(1, "138***88888")
    assert active is not None and active.status is Status.PENDING


async def test_forget_answers_plainly_when_there_is_nothing_or_the_words_are_wrong(svc: Services) -> None:
    chat = await a_customer_with_a_history(svc)
    assert "没有找到" in only(await chat.say(CHEN, "/forget 137***00000 确认"), CHEN).text
    assert "用法" in only(await chat.say(CHEN, "/forget 138***88888 好的"), CHEN).text
    assert "用法" in only(await chat.say(CHEN, "/forget"), CHEN).text
    assert "只有经理及以上" in only(await chat.say(ZHAO, "/forget 138***88888 确认"), ZHAO).text
    assert "张先生" in await all_text(svc)


async def test_on_sqlite_the_erased_bytes_are_gone_from_the_file_and_the_wal(sqlite_url: str, policy: Policy) -> None:
    """On PostgreSQL VACUUM reclaims the old row versions in time; SQLite overwrites them at once."""
    db = Database(sqlite_url)
    try:
        svc = Services(db=db, render=Renderer(policy.timezone), policy=policy, phone_key=TEST_PHONE_KEY)
        chat = await a_customer_with_a_history(svc)
        await chat.say(CHEN, "/forget 138***88888 确认")
        path = Path(make_url(sqlite_url).database or "")
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for value in PERSONAL:
            assert value.encode() not in stored, value
        assert "钱女士".encode() in stored
    finally:
        await db.dispose()


async def test_a_forget_that_came_through_a_chat_channel_also_clears_the_file_and_the_wal(
    sqlite_url: str, policy: Policy
) -> None:
    """Through Telegram or WeCom a message is handled inside its delivery's transaction
    (handlers.delivery): the WAL can only be emptied once that has committed, not from inside it
    (where it waited 30 s for itself, the busy timeout, and left the erased bytes in the log)."""
    from reportbot.handlers import delivery
    from reportbot.handlers.messages import Incoming
    from reportbot.handlers.router import handle_message

    db = Database(sqlite_url)
    try:
        svc = Services(db=db, render=Renderer(policy.timezone), policy=policy, phone_key=TEST_PHONE_KEY)
        chat = await a_customer_with_a_history(svc)
        msg = Incoming("telegram", CHEN, CHEN, False, "/forget 138***88888 确认", chat.now, "901", "msg:1:901")
        handled = await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))
        assert "已删除" in handled.to_send[0].action.text  # type: ignore[union-attr]
        path = Path(make_url(sqlite_url).database or "")
        stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        for value in PERSONAL:
            assert value.encode() not in stored, value
    finally:
        await db.dispose()


async def test_forget_also_reaches_the_deal_and_the_answers_kept_for_redelivery(svc: Services) -> None:
    from reportbot.handlers import delivery
    from reportbot.handlers.messages import Incoming
    from reportbot.handlers.router import handle_message

    chat = await a_customer_with_a_history(svc)
    await chat.at("2026-11-24 16:00").say(ZHAO, "/deal 138***88888 周末带父母来签约")
    msg = Incoming("telegram", ZHAO, ZHAO, False, "/who 138***88888", chat.now, "900", "msg:102:900")
    answers = (await delivery.handle_once(svc.db, msg, lambda: handle_message(msg, svc))).to_send
    ids = {q.outbox_id for q in answers if q.outbox_id is not None}
    await delivery.record_progress(svc.db, sending=ids, done=dict.fromkeys(ids, False), at=chat.now)  # type: ignore[arg-type]
    assert "张先生" in await all_text(svc)
    await chat.at("2026-11-25 10:00").say(CHEN, "/forget 138***88888 确认")
    text = await all_text(svc)
    for value in PERSONAL + ["周末带父母来签约"]:
        assert value not in text, value
    [(_, _, problem)] = await verify_chain(svc.db)
    assert problem is None


async def test_the_export_after_a_forget_names_the_erasure_and_holds_nothing_personal(svc: Services) -> None:
    """/export over a period with a /forget in it: every event kind has its label (the erasure's was missing,
    and the workbook could not be made), and the erased customer is not in it."""
    from io import BytesIO

    from openpyxl import load_workbook

    from reportbot.handlers.export import EVENT_LABELS, export_ledger
    from reportbot.rules.model import EventKind
    from reportbot.rules.stats import parse_period
    from tests.conftest import local

    assert set(EVENT_LABELS) == set(EventKind)
    chat = await a_customer_with_a_history(svc)
    await chat.say(CHEN, "/forget 138***88888 确认")
    async with svc.db.uow(write=False) as uow:
        project = (await uow.projects.all())[0]
    now = local("2026-11-25 10:00")
    period = parse_period("2026-11-23..2026-11-25", now)
    assert not isinstance(period, str)
    ledger = await export_ledger(svc, project, period, now)
    book = load_workbook(BytesIO(ledger.build()))
    cells = "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v)
    assert "应客户要求删除姓名和电话" in cells
    assert not [p for p in PERSONAL if p in cells]
