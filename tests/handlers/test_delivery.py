"""At least once in, once recorded: a message or press delivered twice is handled once (issue 4.1).

On SQLite and PostgreSQL. The answers are stored with the change that caused them, so a crash
between commit and send loses none (``unsent``) and a redelivery adds none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from reportbot.handlers import delivery
from reportbot.handlers.context import Services
from reportbot.handlers.decide import handle_press
from reportbot.handlers.messages import Action, Edit, Incoming, Press, Send
from reportbot.handlers.router import handle_message
from reportbot.storage.db import Database
from reportbot.storage.tables import EventRow, ReportRow
from reportbot.storage.transport_tables import OutboxRow
from tests.conftest import local
from tests.office import GROUP, LI, WANG, ZHAO, open_office, report_text

NOW = local("2026-11-23 10:00")


def message(text: str, *, key: str | None, user: str = LI, chat: str | None = None) -> Incoming:
    return Incoming("console", user, chat or user, chat is not None, text, NOW, "77", key)


async def count(svc: Services, table: type) -> int:
    async with svc.db.uow(write=False) as uow:
        return int((await uow.session.execute(select(func.count()).select_from(table))).scalar_one())


def answering(msg: Incoming, svc: Services) -> Callable[[], Awaitable[list[Action]]]:
    return lambda: handle_message(msg, svc)


async def test_a_report_delivered_twice_is_recorded_once_and_answered_once(svc: Services) -> None:
    await open_office(svc)
    msg = message(report_text(), key="msg:101:77")
    first = await delivery.handle_once(svc.db, msg, answering(msg, svc))
    again = await delivery.handle_once(svc.db, msg, answering(msg, svc))
    assert not first.duplicate and again.duplicate and again.answers == []
    assert [q.action.chat_id for q in first.to_send] == [LI, GROUP]  # type: ignore[union-attr]
    assert all(q.outbox_id is not None for q in first.to_send)
    assert await count(svc, ReportRow) == 1
    assert await count(svc, EventRow) == 1  # not even a "duplicate refused" event for the redelivery
    assert await count(svc, OutboxRow) == 2


async def test_the_stored_answers_are_the_ones_returned_and_survive_a_crash_before_sending(svc: Services) -> None:
    await open_office(svc)
    msg = message(report_text(), key="msg:101:77")
    handled = await delivery.handle_once(svc.db, msg, answering(msg, svc))
    # The process dies here, before anything was sent. The next start finds both answers.
    recovered = await delivery.unsent(svc.db, "console")
    assert [q.action for q in recovered] == [q.action for q in handled.to_send]
    assert [q.outbox_id for q in recovered] == [q.outbox_id for q in handled.to_send]
    assert not any(q.was_in_flight for q in recovered)


async def test_sent_answers_are_not_recovered_and_the_one_in_flight_is_flagged(svc: Services) -> None:
    await open_office(svc)
    msg = message(report_text(), key="msg:101:77")
    receipt, card = (await delivery.handle_once(svc.db, msg, answering(msg, svc))).to_send
    assert receipt.outbox_id and card.outbox_id
    await delivery.record_progress(svc.db, sending={receipt.outbox_id, card.outbox_id}, done={receipt.outbox_id: False},
                                   at=NOW)
    recovered = await delivery.unsent(svc.db, "console")  # the crash came while the card was going out
    assert [(q.outbox_id, q.was_in_flight) for q in recovered] == [(card.outbox_id, True)]
    await delivery.record_progress(svc.db, sending=set(), done={card.outbox_id: True}, at=NOW)  # failed for good
    assert await delivery.unsent(svc.db, "console") == []


async def test_a_failure_while_handling_leaves_no_trace_and_the_redelivery_is_handled(svc: Services) -> None:
    await open_office(svc)
    msg = message(report_text(), key="msg:101:77")

    async def dies_after_recording() -> list[Action]:
        await handle_message(msg, svc)  # recorded inside the enclosing transaction ...
        raise ConnectionError("the process died")  # ... that never commits

    with pytest.raises(ConnectionError):
        await delivery.handle_once(svc.db, msg, dies_after_recording)
    assert await count(svc, ReportRow) == 0 and await count(svc, OutboxRow) == 0
    again = await delivery.handle_once(svc.db, msg, answering(msg, svc))
    assert not again.duplicate and "BB-20261123-0001" in again.to_send[0].action.text  # type: ignore[union-attr]
    assert await count(svc, ReportRow) == 1


async def test_refusals_and_queries_are_also_answered_once(svc: Services) -> None:
    await open_office(svc)
    bad = message("报备\n客户：张先生", key="msg:101:1")
    assert len((await delivery.handle_once(svc.db, bad, answering(bad, svc))).to_send) == 1
    assert (await delivery.handle_once(svc.db, bad, answering(bad, svc))).duplicate


async def test_a_press_delivered_twice_decides_once_and_tells_the_canvasser_once(svc: Services) -> None:
    await open_office(svc)
    msg = message(report_text(), key="msg:101:77")
    card = (await delivery.handle_once(svc.db, msg, answering(msg, svc))).to_send[1].action
    assert isinstance(card, Send)
    data = next(b.data for row in card.buttons for b in row if b.label == "确认")
    press = Press("console", ZHAO, GROUP, "500", data, NOW, "press:abc")
    first = await delivery.handle_once(svc.db, press, lambda: handle_press(press, svc))
    again = await delivery.handle_once(svc.db, press, lambda: handle_press(press, svc))
    assert [type(q.action) for q in first.to_send] == [Edit, Send] and first.alerts
    assert again.duplicate and again.answers == []
    assert await count(svc, EventRow) == 2  # reported, confirmed


async def test_without_a_key_nothing_is_stored_or_deduplicated(svc: Services) -> None:
    await open_office(svc)
    msg = message("/help", key=None)
    first = await delivery.handle_once(svc.db, msg, answering(msg, svc))
    again = await delivery.handle_once(svc.db, msg, answering(msg, svc))
    assert not again.duplicate and len(first.to_send) == len(again.to_send) == 1
    assert first.to_send[0].outbox_id is None and await count(svc, OutboxRow) == 0


async def test_two_processes_given_the_same_update_at_once_handle_it_once(db_url: str, svc: Services) -> None:
    await open_office(svc)
    other = Database(db_url)
    try:
        msg = message(report_text(), key="msg:101:77")
        results = await asyncio.gather(*(
            delivery.handle_once(db, msg, answering(msg, replace(svc, db=db))) for db in (svc.db, other, svc.db, other)
        ))
    finally:
        await other.dispose()
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert await count(svc, ReportRow) == 1 and await count(svc, OutboxRow) == 2


def test_every_storable_answer_survives_the_outbox_codec() -> None:
    from reportbot.handlers.messages import Button, Delete

    for action in (
        Send("-1001", "卡片\n第二行 \u202e", ((Button("确认", "rb1:c:1"), Button("驳回", "rb1:r:1")),)),
        Send("101", "回执", channel="wecom"),
        Edit("-1001", "55", "已确认", ()),
        Delete("-1001", "56"),
    ):
        assert delivery.decode(delivery.encode(action)) == action


async def test_keys_and_sent_answers_older_than_a_week_are_pruned_but_unsent_ones_are_kept(svc: Services) -> None:
    from datetime import timedelta

    await open_office(svc)
    old = message(report_text(), key="msg:101:1")
    sent_ids = [q.outbox_id for q in (await delivery.handle_once(svc.db, old, answering(old, svc))).to_send]
    await delivery.record_progress(svc.db, sending=set(sent_ids), done=dict.fromkeys(sent_ids, False), at=NOW)  # type: ignore[arg-type]
    owed = message(report_text(phone="138***00002"), key="msg:101:2")
    await delivery.handle_once(svc.db, owed, answering(owed, svc))  # its answers never went out
    assert await delivery.prune(svc.db, NOW + timedelta(days=6)) == 0
    assert await delivery.prune(svc.db, NOW + timedelta(days=8)) == 1
    assert len(await delivery.unsent(svc.db, "console")) == 2  # still owed, key kept with them
    again = await delivery.handle_once(svc.db, owed, answering(owed, svc))
    assert again.duplicate


async def test_a_claimed_reminder_is_stored_with_its_claim_so_a_crash_before_sending_loses_it_not(
    svc: Services,
) -> None:
    from reportbot.handlers.sweep import run_sweep

    await open_office(svc)
    msg = message(report_text(), key="msg:101:77")
    await delivery.handle_once(svc.db, msg, answering(msg, svc))
    receipt_and_card = {q.outbox_id for q in await delivery.unsent(svc.db, "console")}
    await delivery.record_progress(svc.db, sending=receipt_and_card, done=dict.fromkeys(receipt_and_card, False),  # type: ignore[arg-type]
                                   at=NOW)
    due = await run_sweep(svc, local("2026-11-23 10:31"), "console")  # the pending-card reminder (30 min)
    assert due and all(q.outbox_id is not None for q in due)
    # The process dies before sending: the reminder is claimed (no sweep sends it again) and still owed.
    assert await run_sweep(svc, local("2026-11-23 10:32"), "console") == []
    assert [q.action for q in await delivery.unsent(svc.db, "console")] == [q.action for q in due]


async def test_a_batch_records_its_deliveries_in_one_commit_first_come_first_and_answers_after_it(svc: Services) -> None:
    """delivery.batch (the polling loop's groups): both reports in one transaction, in order; what
    waits for the commit (the transport's sends) runs only after it."""
    await open_office(svc)
    same_customer = [message(report_text(), key="msg:101:1"),
                     message(report_text(team="猛虎队", who="王五"), key="msg:103:2", user=WANG)]
    sent: list[str] = []
    async with delivery.batch(svc.db):
        for msg in same_customer:
            handled = await delivery.handle_once(svc.db, msg, answering(msg, svc))
            texts = [q.action.text for q in handled.to_send if isinstance(q.action, Send)]

            async def send(texts: list[str] = texts) -> None:
                sent.extend(texts)

            await svc.db.after_commit(send)
        assert sent == []  # nothing goes out before the commit
    assert "回执号" in sent[0] and "撞单" in sent[2] and "飞虎队" in sent[2], sent
    assert await count(svc, ReportRow) == 1  # the first one holds the customer
    again = await delivery.handle_once(svc.db, same_customer[1], answering(same_customer[1], svc))
    assert again.duplicate  # its key was committed with the batch


async def test_a_batch_that_fails_records_nothing_and_answers_nothing(svc: Services) -> None:
    await open_office(svc)
    msg = message(report_text(), key="msg:101:1")
    sent: list[str] = []

    async def send() -> None:
        sent.append("receipt")

    with pytest.raises(RuntimeError):
        async with delivery.batch(svc.db):
            await delivery.handle_once(svc.db, msg, answering(msg, svc))
            await svc.db.after_commit(send)
            raise RuntimeError("the next update of the group failed")
    assert sent == [] and await count(svc, ReportRow) == 0 and await count(svc, OutboxRow) == 0
    handled = await delivery.handle_once(svc.db, msg, answering(msg, svc))  # handled again, alone
    assert not handled.duplicate and await count(svc, ReportRow) == 1
