"""Use case: an assistant confirms or rejects a report with the card's buttons (SPEC §5).

A single card's buttons name the report (as do a pending reminder's); a gathered card's (handlers.cards)
name the card and the report, or the card alone for 全部确认. Either way a decision is the same: one
event, the canvasser told, the card edited to show it. A gathered card the report is no longer live on
(it was put on a newer one: cards sent again after a crash) decides nothing and says where it went.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportbot.handlers.callbacks import GatheredAction, Verb, decode, decode_gathered, decode_qr
from reportbot.handlers.cards import card, gathered_card, lines_of
from reportbot.handlers.context import Services, Unit
from reportbot.handlers.identity import find_sender, private_chat_of
from reportbot.handlers.messages import Action, Alert, Edit, Press, Send
from reportbot.handlers.web_access import handle_qr_press
from reportbot.rules.model import REJECT_LABELS, EventKind, RejectReason, Report, Role, Staff, Status


async def handle_press(press: Press, svc: Services) -> list[Action]:
    """Every press gets an alert (Telegram wants each callback answered); only decisions change the ledger."""
    action = decode(press.data)
    if action is None:
        if (qr := decode_qr(press.data)) is not None:
            return await handle_qr_press(press, qr, svc)
        if (gathered := decode_gathered(press.data)) is not None:
            return await _press_gathered(press, svc, gathered)
        return [Alert(svc.render("button_stale.j2"))]
    async with svc.db.uow(write=False) as uow:
        presser = await find_sender(uow, press.channel, press.sender_id)
        report = await uow.reports.get(action.report_id)
    if (refused := _refused(svc, presser, press)) is not None:
        return refused
    if report is None:
        return [Alert(svc.render("button_stale.j2"))]
    if report.status is not Status.PENDING:
        text, buttons = card(svc, report)
        return [Edit(press.chat_id, press.message_id, text, buttons), Alert(svc.render("already_decided.j2", r=report))]
    if action.verb in (Verb.REJECT_MENU, Verb.BACK):
        text, buttons = card(svc, report, choosing_reason=action.verb is Verb.REJECT_MENU)
        return [Edit(press.chat_id, press.message_id, text, buttons), Alert("")]
    assert presser is not None
    async with svc.db.uow() as uow:
        [decided] = await _decide(uow, [report.id], _status(action.verb), presser, press, action.reason)
        await uow.commit()
    text, buttons = card(svc, decided.report)
    return [Edit(press.chat_id, press.message_id, text, buttons), *_told(svc, decided)]


def _refused(svc: Services, presser: Staff | None, press: Press) -> list[Action] | None:
    if presser is None:
        return [Alert(svc.render("unregistered_alert.j2", user_id=press.sender_id))]
    if not presser.role.at_least(Role.ASSISTANT):
        return [Alert(svc.render("press_not_allowed.j2"))]
    return None


def _status(verb: Verb) -> Status:
    return Status.CONFIRMED if verb is Verb.CONFIRM else Status.REJECTED


@dataclass(frozen=True)
class Decided:
    report: Report  # as it stands after the attempt
    changed: bool  # False: somebody else decided it a moment earlier
    canvasser_chat: str | None  # where the canvasser is told (None: not reachable on this channel)


async def _decide(
    uow: Unit, report_ids: Sequence[int], status: Status, presser: Staff, press: Press,
    reason: RejectReason | None,
) -> list[Decided]:
    """Decide each still pending report (the database says which are: first decision wins), with its event."""
    decided = []
    for report_id in report_ids:
        changed = await uow.reports.decide(report_id, status=status, by=presser.id, at=press.now, reject_reason=reason)
        report = await uow.reports.get(report_id)
        assert report is not None
        chat = None
        if changed:
            await uow.events.add(
                project_id=report.project_id,
                phone=report.phone,
                kind=EventKind.CONFIRMED if status is Status.CONFIRMED else EventKind.REJECTED,
                actor_id=presser.id,
                at=press.now,
                report_id=report.id,
                detail=REJECT_LABELS[reason] if reason else None,
            )
            chat = await private_chat_of(uow, report.canvasser_id, press.channel)
        decided.append(Decided(report, changed, chat))
    return decided


def _told(svc: Services, decided: Decided) -> list[Action]:
    """The presser's alert and the canvasser's notice for one decision."""
    if not decided.changed:
        return [Alert(svc.render("already_decided.j2", r=decided.report))]
    actions: list[Action] = [Alert(svc.render("decided_alert.j2", r=decided.report))]
    if decided.canvasser_chat:
        actions.append(Send(decided.canvasser_chat, svc.render("decision_told.j2", r=decided.report)))
    return actions


async def _press_gathered(press: Press, svc: Services, action: GatheredAction) -> list[Action]:
    card_id = action.card_id
    async with svc.db.uow(write=False) as uow:
        presser = await find_sender(uow, press.channel, press.sender_id)
        ids = await uow.cards.reports_on(card_id)
        live = await uow.cards.live_cards(ids)
        reports = await uow.reports.get_many(ids)
    if (refused := _refused(svc, presser, press)) is not None:
        return refused
    assert presser is not None
    if not reports:
        return [Alert(svc.render("button_stale.j2"))]

    def shown(now_reports: Sequence[Report], choosing: int | None = None) -> Edit:
        text, buttons, pick = gathered_card(svc, card_id, lines_of(card_id, now_reports, live), press.channel,
                                            choosing=choosing)
        return Edit(press.chat_id, press.message_id, text, buttons, pick)

    open_ids = [r.id for r in reports if r.status is Status.PENDING and live.get(r.id, card_id) == card_id]
    if action.verb is Verb.ALL:
        async with svc.db.uow() as uow:
            decided = await _decide(uow, open_ids, Status.CONFIRMED, presser, press, None)
            await uow.commit()
            reports = await uow.reports.get_many(ids)
        done = [d for d in decided if d.changed]
        told: list[Action] = [Send(d.canvasser_chat, svc.render("decision_told.j2", r=d.report))
                              for d in done if d.canvasser_chat]
        alert = svc.render("all_confirmed_alert.j2", confirmed=len(done), others=len(decided) - len(done))
        return [shown(reports), Alert(alert), *told]
    if action.report_id is None:  # a card with a list to pick from, pressed before anything was picked
        return [Alert(svc.render("card_pick_first.j2"))]
    report = next((r for r in reports if r.id == action.report_id), None)
    if report is None:
        return [Alert(svc.render("button_stale.j2"))]
    if live.get(report.id, card_id) != card_id:
        return [shown(reports), Alert(svc.render("card_moved_alert.j2", r=report))]
    if report.status is not Status.PENDING:
        return [shown(reports), Alert(svc.render("already_decided.j2", r=report))]
    if action.verb in (Verb.REJECT_MENU, Verb.BACK):
        return [shown(reports, report.id if action.verb is Verb.REJECT_MENU else None), Alert("")]
    async with svc.db.uow() as uow:
        [decided_one] = await _decide(uow, [report.id], _status(action.verb), presser, press, action.reason)
        await uow.commit()
        reports = await uow.reports.get_many(ids)
    return [shown(reports), *_told(svc, decided_one)]
