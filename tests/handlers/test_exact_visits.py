"""Exact matching of visits (issue 4 §3): a keyed hash of the full number, beside the masked key.

Two customers 13812388888 and 13899988888 share the masked key 138***88888. Given full numbers on both
sides, the visit tells them apart; given a masked number on either side, the masked key decides.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from reportbot.handlers.context import Services
from reportbot.rules.model import Status
from reportbot.rules.phone import Phone, parse_phone
from reportbot.storage.tables import ReportRow, VisitRow
from tests.office import GROUP, LI, ZHAO, Chat, only, open_office, report_text

ALICE, BOB = "13812388888", "13899988888"  # both 138***88888


async def status_of_first_report(svc: Services) -> Status:
    async with svc.db.uow(write=False) as uow:
        report = await uow.reports.get(1)
    assert report is not None
    return report.status


async def test_a_report_with_a_full_number_keeps_only_the_mask_and_a_keyed_hash(svc: Services) -> None:
    await open_office(svc)
    await Chat(svc).say(LI, report_text(phone=ALICE))
    async with svc.db.uow(write=False) as uow:
        phone, phone_hash = (await uow.session.execute(select(ReportRow.phone, ReportRow.phone_hash))).one()
    assert phone == "138***88888"
    assert phone_hash is not None and ALICE not in phone_hash
    full = parse_phone(ALICE, 5)
    assert isinstance(full, Phone) and phone_hash == svc.phone_hash(full)


async def test_another_customer_sharing_the_masked_number_is_told_apart_at_the_visit(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text(phone=ALICE))
    bob = only(await chat.at("2026-11-24 10:00").say(ZHAO, f"/visit {BOB}"), GROUP).text
    assert "自然来访" in bob and "李四" not in bob
    assert await status_of_first_report(svc) is Status.PENDING  # Alice's report still holds her
    alice = only(await chat.at("2026-11-24 15:00").say(ZHAO, f"/visit {ALICE}"), GROUP).text
    assert "归属：李四（飞虎队）" in alice
    assert await status_of_first_report(svc) is Status.VISITED
    async with svc.db.uow(write=False) as uow:
        visits = (await uow.session.execute(select(VisitRow.phone, VisitRow.owner_id).order_by(VisitRow.id))).all()
    assert [tuple(v) for v in visits] == [("138***88888", None), ("138***88888", 1)]


async def test_the_same_customer_visiting_again_is_a_revisit_of_their_own_visit(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(ZHAO, f"/visit {BOB}")
    await chat.say(ZHAO, f"/visit {ALICE} 带客：李四")
    again = only(await chat.at("2026-11-23 16:00").say(ZHAO, f"/visit {ALICE}"), ZHAO).text
    assert "归属不变" in again and "李四" in again


async def test_a_masked_number_on_either_side_falls_back_to_the_masked_key(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text(phone="138***88888"))
    visit = only(await chat.at("2026-11-24 15:00").say(ZHAO, f"/visit {BOB}"), GROUP).text
    assert "归属：李四（飞虎队）" in visit  # the report gave no full number: the masked key decides
    await chat.say(LI, report_text(customer="钱女士", phone="13912345678"))
    masked_visit = only(await chat.at("2026-11-24 16:00").say(ZHAO, "/visit 139***45678"), GROUP).text
    assert "归属：李四（飞虎队）" in masked_visit


async def test_without_a_key_full_numbers_match_by_the_masked_key_only(svc: Services) -> None:
    svc = dataclasses.replace(svc, phone_key=None)
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(LI, report_text(phone=ALICE))
    visit = only(await chat.at("2026-11-24 15:00").say(ZHAO, f"/visit {BOB}"), GROUP).text
    assert "归属：李四（飞虎队）" in visit
    async with svc.db.uow(write=False) as uow:
        hashes = list((await uow.session.execute(select(ReportRow.phone_hash))).scalars())
    assert hashes == [None]


async def test_a_visit_refuses_reports_of_its_own_customer_only(svc: Services) -> None:
    await open_office(svc)
    chat = Chat(svc)
    await chat.say(ZHAO, f"/visit {BOB}")
    accepted = only(await chat.say(LI, report_text(phone=ALICE)), LI).text
    assert "报备已登记" in accepted  # Bob visited, not Alice
    await chat.say(ZHAO, "/visit 13900012345")
    refused = only(await chat.say(LI, report_text(customer="李女士", phone="139***12345")), LI).text
    assert "到访" in refused and "不再接受报备" in refused  # masked: it may be the visitor, so refused


async def test_one_visit_given_at_once_with_the_full_and_the_masked_number_is_recorded_once(svc: Services) -> None:
    """The front desk types the full number while the assistant types the masked one, at the same
    moment: the two land in different unique indexes (exact / masked), so on PostgreSQL only a lock on
    the customer keeps the second from recording a second visit."""
    import asyncio

    from reportbot.handlers.messages import Incoming
    from reportbot.handlers.router import handle_message
    from tests.office import CHEN

    await open_office(svc)
    chat = Chat(svc)
    customers = [f"1381234{n:04d}" for n in range(8)]
    for n, full in enumerate(customers):
        await chat.say(LI, report_text(customer=f"客户{n}", phone=full))
    now = chat.at("2026-11-24 10:00").now
    for full in customers:
        masked = full[:3] + "***" + full[-5:]
        await asyncio.gather(
            handle_message(Incoming("console", ZHAO, ZHAO, False, f"/visit {full}", now), svc),
            handle_message(Incoming("console", CHEN, CHEN, False, f"/visit {masked}", now), svc),
        )
    async with svc.db.uow(write=False) as uow:
        visits = (await uow.session.execute(select(VisitRow.phone))).scalars().all()
    assert sorted(visits) == sorted(full[:3] + "***" + full[-5:] for full in customers)
