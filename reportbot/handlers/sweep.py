"""The periodic sweep (SPEC §6–7): expire reports, lapse idle ownership, plan digests, send what is due.

Every message it sends comes from a reminder row. Claiming a row marks it sent in the same
statement, so two bot processes sweeping at once never send one twice, and rows that fell due
while the bot was down are sent at the next sweep (after the quiet hours, if they are on). The
messages of the claimed rows are stored in the outbox in the same commit (``handlers.delivery``), so
a crash between claiming and sending loses none: the next start sends them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from reportbot.handlers import delivery
from reportbot.handlers.cards import card
from reportbot.handlers.context import Services, Unit
from reportbot.handlers.delivery import Queued
from reportbot.handlers.identity import group_chat, private_chat_of
from reportbot.handlers.messages import Action, Send
from reportbot.handlers.stats import compute_stats, stats_messages
from reportbot.rules.model import EventKind, Project, Status
from reportbot.rules.ownership import becomes_public
from reportbot.rules.reminders import Kind, digest_due, quiet, weekly_digest_due
from reportbot.rules.stats import week_ending
from reportbot.storage.reminders import DueReminder

Channels = str | tuple[str, ...]


def _channels(channels: Channels) -> tuple[str, ...]:
    return (channels,) if isinstance(channels, str) else channels


async def run_sweep(svc: Services, now: datetime, channels: Channels) -> list[Queued]:
    """One pass: the ledger's time-driven changes first, then the messages now due, stored in the outbox.

    ``channels`` are the channels this process runs: a group hears on each of them it has a chat on,
    a person on the first of them they are registered on; every Send names its channel. The running
    bot sends the returned messages through its outbox, which marks each one sent.
    """
    await expire_reports(svc, now)
    await lapse_ownership(svc, now)
    await plan_digests(svc, now)
    if quiet(now, svc.policy):
        return []
    return await send_due(svc, now, channels)


async def sweep(svc: Services, now: datetime, channels: Channels) -> list[Action]:
    """``run_sweep`` for a caller that shows the messages itself at once (the console): they count as sent."""
    queued = await run_sweep(svc, now, channels)
    shown = {q.outbox_id: False for q in queued if q.outbox_id is not None}
    await delivery.record_progress(svc.db, sending=set(shown), done=shown, at=now)
    return [q.action for q in queued]


async def expire_reports(svc: Services, now: datetime) -> int:
    """Reports past their validity with no visit expire; the key is free; a 4th expiry makes a 公号."""
    expired = 0
    async with svc.db.uow() as uow:
        for report in await uow.reports.due_to_expire(now):
            if not await uow.reports.set_status(report.id, Status.EXPIRED, only_from=(Status.PENDING, Status.CONFIRMED)):
                continue
            expired += 1
            await uow.events.add(project_id=report.project_id, phone=report.phone, kind=EventKind.EXPIRED,
                                 actor_id=report.canvasser_id, at=report.valid_until, report_id=report.id)
            await uow.reminders.plan(f"{Kind.EXPIRED}:{report.id}", Kind.EXPIRED, report.project_id, now,
                                     report_id=report.id, staff_id=report.canvasser_id)
            if becomes_public(
                await _consecutive_expiries(uow, report.project_id, report.phone), svc.policy.max_rereports
            ) and not await uow.reports.is_public(report.project_id, report.phone):
                await uow.reports.declare_public(report.project_id, report.phone, now)
                await uow.events.add(project_id=report.project_id, phone=report.phone, kind=EventKind.PUBLIC,
                                     actor_id=report.canvasser_id, at=report.valid_until, report_id=report.id)
        await uow.commit()
    return expired


async def _consecutive_expiries(uow: Unit, project_id: int, phone: str) -> int:
    """Expiries of this customer since the last visit or release, whoever reported."""
    kinds = await uow.events.kinds_since(project_id, phone, (EventKind.EXPIRED, EventKind.VISITED, EventKind.RELEASED))
    count = 0
    for kind in reversed(kinds):
        if kind is not EventKind.EXPIRED:
            break
        count += 1
    return count


async def lapse_ownership(svc: Services, now: datetime) -> int:
    """A visited customer with no follow-up for the lapse period loses its owner to the office."""
    lapsed = 0
    async with svc.db.uow() as uow:
        for visit in await uow.visits.idle_owned(now - timedelta(days=svc.policy.ownership_lapse_days)):
            if not await uow.visits.lapse(visit.id, now):
                continue
            lapsed += 1
            assert visit.owner_id is not None
            await uow.events.add(project_id=visit.project_id, phone=visit.phone, kind=EventKind.LAPSED,
                                 actor_id=visit.owner_id, at=now, report_id=visit.report_id,
                                 detail=f"{svc.policy.ownership_lapse_days}天未跟进")
            await uow.reminders.plan(f"{Kind.LAPSED}:{visit.id}:{now.timestamp():.0f}", Kind.LAPSED,
                                     visit.project_id, now, visit_id=visit.id, staff_id=visit.owner_id)
        await uow.commit()
    return lapsed


async def plan_digests(svc: Services, now: datetime) -> None:
    """From the digest time on, each project with a group gets one digest row for the day (and, on the
    weekly digest's day, one for the week)."""
    due = [(Kind.DIGEST, digest_due(now, svc.policy)), (Kind.WEEKLY, weekly_digest_due(now, svc.policy))]
    due = [(kind, day) for kind, day in due if day is not None]
    if not due:
        return
    async with svc.db.uow() as uow:
        for project in await uow.projects.all():
            if project.has_group:
                for kind, day in due:
                    await uow.reminders.plan(f"{kind}:{project.id}:{day}", kind, project.id, now)
        await uow.commit()


async def send_due(svc: Services, now: datetime, channels: Channels) -> list[Queued]:
    """Claim what is due and store its messages in the outbox, in one commit: none is lost to a crash."""
    running = _channels(channels)

    async def claim_and_render() -> list[Action]:
        async with svc.db.uow() as uow:
            due = await uow.reminders.claim_due(now)
            actions: list[Action] = []
            for reminder in due:
                actions += await _render(uow, svc, reminder, now, running)
            await uow.commit()
        return actions

    return await delivery.with_stored_answers(svc.db, running[0], now, claim_and_render)


def _groups(project: Project, channels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(channel, chat) of each group of the project on the running channels."""
    found = [(channel, group_chat(project, channel)) for channel in channels]
    return [(channel, chat) for channel, chat in found if chat]


async def _person(uow: Unit, staff_id: int, channels: tuple[str, ...]) -> tuple[str, str] | None:
    """(channel, chat) reaching this person: the first running channel they are registered on."""
    for channel in channels:
        chat = await private_chat_of(uow, staff_id, channel)
        if chat:
            return channel, chat
    return None


async def _render(uow: Unit, svc: Services, r: DueReminder, now: datetime, channels: tuple[str, ...]) -> list[Action]:
    """The message a reminder stands for — or nothing, when what it was about has moved on."""
    project = await uow.projects.get(r.project_id)
    assert project is not None
    kind = Kind(r.kind)
    if kind is Kind.DIGEST:
        groups = _groups(project, channels)
        if not groups:
            return []
        text = await _digest(uow, svc, project, r.due_at)
        return [Send(chat, text, channel=channel) for channel, chat in groups]
    if kind is Kind.WEEKLY:  # the week's statistics, table and chart (周统计)
        period = week_ending(r.due_at.astimezone(svc.tz).date(), r.due_at.astimezone(svc.tz))
        stats = await compute_stats(uow, project, period)
        return [replace(message, channel=channel) for channel, chat in _groups(project, channels)
                for message in stats_messages(svc, chat, project, stats)]
    report = await uow.reports.get(r.report_id) if r.report_id else None
    visit = await uow.visits.get(r.visit_id) if r.visit_id else None
    if kind is Kind.PENDING:
        if report is None or report.status is not Status.PENDING:
            return []
        text, buttons = card(svc, report)
        notice = svc.render("reminder.j2", kind=kind.value, r=report, now=now) + "\n" + text
        return [Send(chat, notice, buttons, channel=channel) for channel, chat in _groups(project, channels)]
    if kind in (Kind.APPOINTMENT_DAY, Kind.APPOINTMENT_SOON, Kind.EXPIRES_TONIGHT):
        if report is None or not report.status.active:
            return []
        if kind is not Kind.EXPIRES_TONIGHT and now >= report.appointment_at:
            return []  # held back (quiet hours, downtime) past the appointment itself: no longer news
    if kind in (Kind.FIRST_FOLLOWUP, Kind.SECOND_FOLLOWUP):
        if visit is None or visit.owner_id != r.staff_id:
            return []
        if await uow.deals.of_customer(visit.project_id, visit.phone):
            return []  # sold: no follow-up to chase
        needed = 1 if kind is Kind.FIRST_FOLLOWUP else 2
        if await uow.follow_ups.count_since(visit.project_id, visit.phone, visit.at) >= needed:
            return []
    person = await _person(uow, r.staff_id, channels) if r.staff_id else None
    if person is None:
        return []
    channel, chat = person
    public = report is not None and await uow.reports.is_public(report.project_id, report.phone)
    return [Send(chat, svc.render("reminder.j2", kind=kind.value, r=report, v=visit, now=now, public=public,
                                  policy=svc.policy), channel=channel)]


async def _digest(uow: Unit, svc: Services, project: Project, at: datetime) -> str:
    local = at.astimezone(svc.tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    counts = {
        kind: await uow.events.count_between(project.id, kind, start, end)
        for kind in (EventKind.REPORTED, EventKind.DUPLICATE_REFUSED, EventKind.CONFIRMED, EventKind.REJECTED,
                     EventKind.EXPIRED)
    }
    visits = await uow.visits.count_between(project.id, start, end)
    expiring = await uow.reports.expiring_between(project.id, end, end + timedelta(days=1))
    return svc.render("digest.j2", project=project, day=start, counts=counts, EventKind=EventKind, visits=visits,
                      expiring=expiring)
