"""Use case: a canvasser (or an assistant on their behalf) reports a customer (SPEC §3, §4)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from reportbot.handlers.cards import card
from reportbot.handlers.context import Services
from reportbot.handlers.identity import SHOWS_PHOTOS, group_chat, private_chat_of
from reportbot.handlers.messages import Action, Incoming, Keyboard, Send
from reportbot.handlers.web_access import qr_keyboard
from reportbot.rules import privacy
from reportbot.rules.model import EventKind, Project, Report, Role, Staff, Status
from reportbot.rules.policy import Policy
from reportbot.rules.refusal import Field, Refusal
from reportbot.rules.reminders import Kind, plan_for_report
from reportbot.rules.report_parse import ReportDraft, Understood, read_report
from reportbot.rules.timeparse import check_window, validity_end
from reportbot.storage.db import Database
from reportbot.storage.report_filing import NewReport, PlannedReminder

MALFORMED_COUNTER = "malformed_report"


@dataclass(frozen=True)
class Accepted:
    report: Report


@dataclass(frozen=True)
class Repeated:
    """The same canvasser sent the same customer again: nothing new, the receipt again."""

    report: Report


@dataclass(frozen=True)
class Duplicate:
    """Another canvasser holds the customer (撞单). Only the team and the time may be told."""

    holder_team: str
    reported_at: datetime


@dataclass(frozen=True)
class PublicCustomer:
    pass


@dataclass(frozen=True)
class TooManyActive:
    limit: int


@dataclass(frozen=True)
class AlreadyVisited:
    """The customer has visited: ownership was decided then (SPEC §4 step 3, §5)."""

    visited_at: datetime
    owner_team: str | None  # None: a natural visitor, the office's


@dataclass(frozen=True)
class ReasonRequired:
    """The canvasser's own report of this customer expired: a re-report must say why (SPEC §6)."""

    expired: Report


Outcome = Accepted | Repeated | Duplicate | PublicCustomer | TooManyActive | AlreadyVisited | ReasonRequired


@dataclass(frozen=True)
class Filing:
    """A checked report, ready to be recorded."""

    project: Project
    canvasser: Staff
    filed_by: Staff
    draft: ReportDraft
    now: datetime  # arrival, aware UTC: first come is decided by this order
    valid_until: datetime
    receipt_day: str  # local day of arrival, YYYYMMDD
    channel: str
    chat_id: str
    phone_hash: str | None = None  # keyed hash of the full number, when one was given (never the number)


@dataclass(frozen=True)
class _ShowAgain:
    """The canvasser's own earlier report is the answer: read in full once the write unit is closed."""

    outcome: type[Repeated | ReasonRequired]
    report_id: int


async def record_report(db: Database, filing: Filing, policy: Policy) -> Outcome:
    """SPEC §4 in one write transaction. The partial unique index is the last word on "first"."""
    try:
        outcome = await _record_once(db, filing, policy)
    except IntegrityError:
        # Another writer took the customer between our check and our insert (on PostgreSQL both
        # run at once). Look again: the check now sees the winner and answers "duplicate". (Inside
        # a delivery's transaction on PostgreSQL, TransactionLost instead: _record_once.)
        outcome = await _record_once(db, filing, policy)
    if isinstance(outcome, _ShowAgain):
        return outcome.outcome(await _full_report(db, outcome.report_id))
    return outcome


async def _record_once(db: Database, f: Filing, policy: Policy) -> Outcome | _ShowAgain:
    max_active = policy.max_active_reports_per_canvasser
    phone = f.draft.phone.masked
    on_behalf = f.filed_by.name if f.filed_by.id != f.canvasser.id else None
    # The report path's statements are all raw (storage.sql). Inside a delivery's transaction on
    # PostgreSQL the unit takes no savepoint, one round trip fewer per report: each write below is one
    # statement followed by commit, and the paths that return early have written nothing. A filing
    # that loses the race there raises TransactionLost, and handle_once does the delivery again.
    async with db.uow(orm=False, savepoint=False) as uow:
        state = await uow.reports.customer_state(f.project.id, phone, f.canvasser.id, f.phone_hash)
        if state.public:
            return PublicCustomer()
        # The active report, if any, is the customer's newest: none can be filed while one is active.
        latest = state.latest
        if latest is not None and latest.status.active:
            if latest.canvasser_id == f.canvasser.id:
                return _ShowAgain(Repeated, latest.id)
            await uow.events.add(
                project_id=f.project.id, phone=phone, kind=EventKind.DUPLICATE_REFUSED, actor_id=f.canvasser.id,
                at=f.now, report_id=latest.id, detail=on_behalf,
            )
            await uow.commit()
            return Duplicate(latest.team, latest.reported_at)
        if state.visited_at is not None:
            return AlreadyVisited(state.visited_at, state.visit_owner_team)
        if latest and latest.status is Status.EXPIRED and latest.canvasser_id == f.canvasser.id and not f.draft.reason:
            return _ShowAgain(ReasonRequired, latest.id)
        if state.active_of_canvasser >= max_active:
            return TooManyActive(max_active)
        report = await uow.reports.file(
            NewReport(
                project_id=f.project.id,
                receipt_prefix=f"BB-{f.receipt_day}-",
                customer=f.draft.customer,
                phone=phone,
                team=f.canvasser.team,
                canvasser_id=f.canvasser.id,
                canvasser_name=f.canvasser.name,
                filed_by_id=f.filed_by.id,
                appointment_at=f.draft.appointment,
                reported_at=f.now,
                valid_until=f.valid_until,
                note=f.draft.note,
                reason=f.draft.reason,
                source_channel=f.channel,
                source_chat=f.chat_id,
                phone_hash=f.phone_hash,
                on_behalf=on_behalf,
            ),
            f.receipt_day,
            planned_reminders(f.now, f.draft.appointment, f.valid_until, f.canvasser.id, policy),
        )
        await uow.commit()
        return Accepted(report)


def planned_reminders(
    now: datetime, appointment: datetime, valid_until: datetime, canvasser_id: int, policy: Policy
) -> list[PlannedReminder]:
    """A new report's reminders: the pending alert goes to the project's assistants, the rest to the canvasser."""
    return [
        PlannedReminder(plan.kind.value, plan.due, None if plan.kind is Kind.PENDING else canvasser_id)
        for plan in plan_for_report(now, appointment, valid_until, policy)
    ]


async def _full_report(db: Database, report_id: int) -> Report:
    """The whole report, as the receipt shows it (through the ORM: a rare answer)."""
    async with db.uow(write=False) as uow:
        report = await uow.reports.get(report_id)
    assert report is not None
    return report


async def handle_report(msg: Incoming, sender: Staff, project: Project, svc: Services) -> list[Action]:
    """Parse, check and record a report; answer with a receipt or a refusal naming the field."""
    local_now = msg.now.astimezone(svc.tz)
    reading = read_report(msg.text, local_now, svc.policy)
    parsed = reading.draft
    refusals = reading.refusals
    if parsed is not None:
        window = check_window(parsed.appointment, local_now, svc.policy)
        refusals = (window,) if window else ()
    canvasser: Staff | None = None
    if parsed is not None and not refusals:
        canvasser, refusal = await _resolve_canvasser(svc, sender, parsed)
        refusals = (refusal,) if refusal else ()
    if refusals or canvasser is None or parsed is None:
        async with svc.db.uow() as uow:
            await uow.counters.bump(MALFORMED_COUNTER, local_now.strftime("%Y%m%d"))
            await uow.commit()
        return [Send(msg.chat_id, _refusal_text(svc, refusals, reading.understood, sender))]

    filing = Filing(
        project=project,
        canvasser=canvasser,
        filed_by=sender,
        draft=_without_full_numbers(parsed, svc.policy.mask_suffix_digits),
        now=msg.now,
        valid_until=validity_end(local_now, svc.policy),
        receipt_day=local_now.strftime("%Y%m%d"),
        channel=msg.channel,
        chat_id=msg.chat_id,
        phone_hash=svc.phone_hash(parsed.phone),
    )
    outcome = await record_report(svc.db, filing, svc.policy)
    return await _answer(svc, msg, filing, outcome)


def _without_full_numbers(draft: ReportDraft, suffix_digits: int) -> ReportDraft:
    """A whole number typed into the note or reason is masked too: none is ever stored."""
    note = privacy.mask_full_numbers(draft.note, suffix_digits) if draft.note else None
    reason = privacy.mask_full_numbers(draft.reason, suffix_digits) if draft.reason else None
    return replace(draft, note=note, reason=reason)


async def _resolve_canvasser(svc: Services, sender: Staff, draft: ReportDraft) -> tuple[Staff | None, Refusal | None]:
    """Team and name must be the sender's own, unless an assistant or manager files for a named canvasser."""
    if draft.team == sender.team and draft.canvasser == sender.name:
        return sender, None
    if not sender.role.at_least(Role.ASSISTANT):
        if draft.team != sender.team:
            return None, Refusal.of(Field.TEAM, "team_mismatch", given=draft.team, registered=sender.team)
        return None, Refusal.of(Field.CANVASSER, "canvasser_mismatch", given=draft.canvasser, registered=sender.name)
    async with svc.db.uow(write=False) as uow:
        found = await uow.staff.by_name(draft.canvasser, draft.team)
    if len(found) != 1:
        code = "canvasser_unknown" if not found else "canvasser_ambiguous"
        return None, Refusal.of(Field.CANVASSER, code, name=draft.canvasser, team=draft.team)
    return found[0], None


def _refusal_text(
    svc: Services, refusals: tuple[Refusal, ...], understood: tuple[Understood, ...], sender: Staff
) -> str:
    """Every problem in a sentence; then what was understood of each field (a refused field marked so),
    so that the canvasser fixes that one and sends the rest as it was."""
    lines = [(r.field, svc.render.refusal(r)) for r in refusals]
    wrong = {r.field for r in refusals}
    coach = [replace(u, status="wrong") if u.field in wrong and u.status == "ok" else u
             for u in understood]
    return svc.render("refused.j2", lines=lines, understood=coach, me=sender)


async def _answer(svc: Services, msg: Incoming, filing: Filing, outcome: Outcome) -> list[Action]:
    match outcome:
        case Accepted(report):
            return await _accepted(svc, msg, filing, report)
        case Repeated(report):
            return [Send(msg.chat_id, svc.render("receipt.j2", r=report, repeated=True, now=msg.now))]
        case Duplicate(team, reported_at):
            return [Send(msg.chat_id, svc.render("duplicate.j2", team=team, reported_at=reported_at))]
        case PublicCustomer():
            return [Send(msg.chat_id, svc.render("public_customer.j2"))]
        case TooManyActive(limit):
            return [Send(msg.chat_id, svc.render("too_many_active.j2", limit=limit))]
        case AlreadyVisited(visited_at, owner_team):
            return [Send(msg.chat_id, svc.render("already_visited.j2", at=visited_at, team=owner_team))]
        case ReasonRequired(expired):
            return [Send(msg.chat_id, svc.render("reason_required.j2", r=expired))]
    raise AssertionError(outcome)


def _visit_code(svc: Services, report: Report, channel: str) -> tuple[str | None, str | None, Keyboard]:
    """The receipt's 带看 code (with the web on): a button for its QR where the channel shows pictures, else
    its link."""
    if svc.web is None:
        return None, None, ()
    if channel in SHOWS_PHOTOS:
        return svc.web.visit_code(report.id), None, qr_keyboard(svc, report)
    return svc.web.visit_code(report.id), svc.web.visit_url(report.id), ()


async def _accepted(svc: Services, msg: Incoming, filing: Filing, report: Report) -> list[Action]:
    """The receipt to the reporter; the card to the project's group (in the group, the card is the receipt)."""
    actions: list[Action] = []
    text, buttons = card(svc, report)
    group = group_chat(filing.project, msg.channel)
    if not (msg.is_group and msg.chat_id == group):
        masked = filing.draft.phone.was_full
        code, qr_link, qr_button = _visit_code(svc, report, msg.channel)
        actions.append(Send(msg.chat_id, svc.render("receipt.j2", r=report, repeated=False, now=msg.now, masked=masked,
                                                    code=code, qr_link=qr_link), qr_button))
    if group:  # while the group's line is behind its limit, gathered with the cards waiting in it
        actions.append(Send(group, text, buttons, card_of=report.id))
    if filing.filed_by.id != filing.canvasser.id:
        async with svc.db.uow(write=False) as uow:
            chat = await private_chat_of(uow, filing.canvasser.id, msg.channel)
        if chat and chat != msg.chat_id:
            actions.append(Send(chat, svc.render("filed_for_you.j2", r=report, by=filing.filed_by, now=msg.now)))
    return actions
