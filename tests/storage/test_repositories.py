"""Repository behaviour that the rules rely on, identical on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from reportbot.rules.audit import GENESIS, first_break
from reportbot.rules.model import EventKind, RejectReason, Role, Status
from reportbot.storage.db import Database
from reportbot.storage.report_filing import NewReport, PlannedReminder
from tests.conftest import local

NOW = local("2026-11-23 10:00")


async def office(db: Database) -> tuple[int, int, int]:
    async with db.uow() as uow:
        project = await uow.projects.add("森林半岛", "-1001234", "wxgroup", NOW)
        li = await uow.staff.add("李四", "飞虎队", Role.CANVASSER, project.id, {"telegram": "101", "wecom": "lisi"}, NOW)
        zhao = await uow.staff.add("赵敏", "案场", Role.ASSISTANT, project.id, {"telegram": "102"}, NOW)
        await uow.commit()
    return project.id, li.id, zhao.id


def row(project_id: int, canvasser_id: int, phone: str = "138***88888", name: str = "李四") -> NewReport:
    return NewReport(
        project_id=project_id, receipt_prefix="BB-20261123-", customer="张先生", phone=phone, team="飞虎队",
        canvasser_id=canvasser_id, canvasser_name=name, filed_by_id=canvasser_id,
        appointment_at=local("2026-11-24 15:00"), reported_at=NOW, valid_until=local("2026-12-01 00:00"), note=None,
        reason=None, source_channel="telegram", source_chat="101",
    )


async def test_times_come_back_aware_and_equal_to_what_was_stored(db: Database) -> None:
    project_id, li, _ = await office(db)
    async with db.uow() as uow:
        report = await uow.reports.file(row(project_id, li), "20261123", [])
        await uow.commit()
    async with db.uow(write=False) as uow:
        again = await uow.reports.get(report.id)
    assert again is not None
    assert again.reported_at == NOW and again.reported_at.tzinfo is not None
    assert again.appointment_at.astimezone(UTC) == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


async def test_the_database_itself_refuses_a_second_active_report_of_one_customer(db: Database) -> None:
    project_id, li, zhao = await office(db)
    async with db.uow() as uow:
        await uow.reports.file(row(project_id, li), "20261123", [])
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            await uow.reports.file(row(project_id, zhao, name="赵敏"), "20261123", [])
            await uow.commit()


async def test_a_decided_report_frees_nothing_but_a_rejected_one_frees_the_customer(db: Database) -> None:
    project_id, li, zhao = await office(db)
    async with db.uow() as uow:
        first = await uow.reports.file(row(project_id, li), "20261123", [])
        assert await uow.reports.decide(first.id, status=Status.REJECTED, by=zhao, at=NOW, reject_reason=RejectReason.FORMAT)
        assert not await uow.reports.decide(first.id, status=Status.CONFIRMED, by=zhao, at=NOW)
        await uow.reports.file(row(project_id, zhao, name="赵敏"), "20261123", [])
        await uow.commit()
    async with db.uow(write=False) as uow:
        active = await uow.reports.active_for(project_id, "138***88888")
        assert active is not None and active.receipt_no == "BB-20261123-0002"
        rejected = await uow.reports.get(first.id)
        assert rejected is not None and rejected.reject_reason is RejectReason.FORMAT and rejected.decided_by_name == "赵敏"


async def test_receipt_numbers_count_per_project_and_day(db: Database) -> None:
    project_id, li, _ = await office(db)

    async def file(project: int, phone: str, day: str) -> str:
        new = replace(row(project, li, phone), receipt_prefix=f"BB-{day}-")
        return (await uow.reports.file(new, day, [])).receipt_no

    async with db.uow() as uow:
        other = await uow.projects.add("山海湾", "-1005678", None, NOW)
        numbers = [
            await file(project_id, "138***00001", "20261123"),
            await file(project_id, "138***00002", "20261123"),
            await file(other.id, "138***00003", "20261123"),
            await file(project_id, "138***00004", "20261124"),
        ]
        await uow.commit()
    assert numbers == ["BB-20261123-0001", "BB-20261123-0002", "BB-20261123-0001", "BB-20261124-0001"]


async def test_a_day_past_9999_reports_gets_five_digit_numbers(db: Database) -> None:
    """Four digits are a minimum, not a cap: number 10000 is not cut to 1000 (the same on both databases)."""
    project_id, li, _ = await office(db)
    async with db.uow() as uow:
        await uow.reports.file(row(project_id, li, "138***00001"), "20261123", [])
        await (await uow.sql()).execute(
            "UPDATE receipt_counter SET last = 9998 WHERE project_id = $1 AND day = $2", project_id, "20261123"
        )
        numbers = [(await uow.reports.file(row(project_id, li, f"138***0000{n}"), "20261123", [])).receipt_no
                   for n in (2, 3)]
        await uow.commit()
    assert numbers == ["BB-20261123-9999", "BB-20261123-10000"]


async def test_filing_plans_the_reports_reminders_and_chains_its_reported_event(db: Database) -> None:
    """The project's first event makes its chain head; later ones chain to it, another writer's event between."""
    project_id, li, zhao = await office(db)
    due = local("2026-11-23 10:30")
    async with db.uow() as uow:
        first = await uow.reports.file(row(project_id, li, "138***00001"), "20261123", [
            PlannedReminder("pending", due, None), PlannedReminder("appt_day", local("2026-11-24 09:00"), li),
        ])
        await uow.events.add(project_id=project_id, phone="138***00001", kind=EventKind.DUPLICATE_REFUSED,
                             actor_id=zhao, at=NOW, report_id=first.id)
        on_behalf = replace(row(project_id, li, "138***00002"), filed_by_id=zhao, on_behalf="赵敏")
        second = await uow.reports.file(on_behalf, "20261123", [])
        await uow.commit()
    async with db.uow(write=False) as uow:
        links, head = await uow.events.chain(project_id)
        assert await uow.reminders.exists(f"pending:{first.id}")
        assert await uow.reminders.exists(f"appt_day:{first.id}")
        assert not await uow.reminders.exists(f"pending:{second.id}")
    assert [(link.kind, link.report_id, link.actor_id, link.detail) for link in links] == [
        ("reported", first.id, li, None), ("duplicate_refused", first.id, zhao, None),
        ("reported", second.id, li, "赵敏"),
    ]
    assert links[0].prev_hash == GENESIS and head == links[-1].hash
    assert first_break(links, head) is None


async def test_a_person_is_found_by_the_id_of_the_channel_they_write_on(db: Database) -> None:
    await office(db)
    async with db.uow(write=False) as uow:
        assert (await uow.staff.by_identity(["telegram"], "101")).name == "李四"  # type: ignore[union-attr]
        assert (await uow.staff.by_identity(["wecom"], "lisi")).name == "李四"  # type: ignore[union-attr]
        assert await uow.staff.by_identity(["wecom"], "101") is None
        assert (await uow.projects.by_chat("wecom", "wxgroup")).name == "森林半岛"  # type: ignore[union-attr]
        assert await uow.projects.by_chat("telegram", "wxgroup") is None


async def test_a_sender_comes_with_their_default_project(db: Database) -> None:
    project_id, _, _ = await office(db)
    async with db.uow() as uow:
        await uow.staff.add("王五", "飞虎队", Role.CANVASSER, None, {"telegram": "103"}, NOW)
        await uow.commit()
    async with db.uow(write=False) as uow:
        li = await uow.staff.by_identity_at_home(["telegram"], "101")
        wang = await uow.staff.by_identity_at_home(["wecom", "telegram"], "103")
        nobody = await uow.staff.by_identity_at_home(["telegram"], "999")
    assert li is not None and li[0].name == "李四" and li[1] is not None and li[1].id == project_id
    assert li[1].name == "森林半岛" and li[1].tg_chat_id == "-1001234" and li[1].wecom_chat_id == "wxgroup"
    assert wang is not None and wang[0].name == "王五" and wang[1] is None
    assert nobody is None


async def test_a_user_id_belongs_to_one_person_per_channel(db: Database) -> None:
    await office(db)
    with pytest.raises(IntegrityError):
        async with db.uow() as uow:
            await uow.staff.add("假李四", "飞虎队", Role.CANVASSER, None, {"telegram": "101"}, NOW)


async def test_events_appended_at_once_by_several_writers_form_one_unbroken_chain(db: Database) -> None:
    """On PostgreSQL an event is locked onto the head, hashed and appended in one statement (the hash
    computed by the database): writers of one project at the same moment still form one chain that
    `audit verify` (Python's hash) accepts, from the project's first event on."""
    import asyncio

    project_id, li, zhao = await office(db)

    async def append(n: int) -> None:
        async with db.uow() as uow:
            await uow.events.add(project_id=project_id, phone=f"138***{n:05d}", kind=EventKind.FOLLOWED_UP,
                                 actor_id=li if n % 2 else zhao, at=NOW, detail=f"回访{n}：客户说周末来")
            await uow.commit()

    await append(0)  # the project's first event: no head yet
    await asyncio.gather(*(append(n) for n in range(1, 9)))
    async with db.uow(write=False) as uow:
        links, head = await uow.events.chain(project_id)
    assert len(links) == 9 and len({link.prev_hash for link in links}) == 9
    assert first_break(links, head) is None and head == links[-1].hash
