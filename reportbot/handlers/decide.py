"""Use case: an assistant confirms or rejects a report with the card's buttons (SPEC §5)."""

from __future__ import annotations

from reportbot.handlers.callbacks import CardAction, Verb, decode, decode_qr
from reportbot.handlers.cards import card
from reportbot.handlers.context import Services
from reportbot.handlers.identity import find_sender, private_chat_of
from reportbot.handlers.messages import Action, Alert, Edit, Press, Send
from reportbot.handlers.web_access import handle_qr_press
from reportbot.rules.model import REJECT_LABELS, EventKind, Role, Status


async def handle_press(press: Press, svc: Services) -> list[Action]:
    """Every press gets an alert (Telegram wants each callback answered); only decisions change the ledger."""
    action = decode(press.data)
    if action is None:
        if (qr := decode_qr(press.data)) is not None:
            return await handle_qr_press(press, qr, svc)
        return [Alert(svc.render("button_stale.j2"))]
    async with svc.db.uow(write=False) as uow:
        presser = await find_sender(uow, press.channel, press.sender_id)
        report = await uow.reports.get(action.report_id)
    if presser is None:
        return [Alert(svc.render("unregistered_alert.j2", user_id=press.sender_id))]
    if not presser.role.at_least(Role.ASSISTANT):
        return [Alert(svc.render("press_not_allowed.j2"))]
    if report is None:
        return [Alert(svc.render("button_stale.j2"))]
    if report.status is not Status.PENDING:
        text, buttons = card(svc, report)
        return [Edit(press.chat_id, press.message_id, text, buttons), Alert(svc.render("already_decided.j2", r=report))]
    if action.verb in (Verb.REJECT_MENU, Verb.BACK):
        text, buttons = card(svc, report, choosing_reason=action.verb is Verb.REJECT_MENU)
        return [Edit(press.chat_id, press.message_id, text, buttons), Alert("")]
    return await _decide(press, svc, action, presser.id)


async def _decide(press: Press, svc: Services, action: CardAction, presser_id: int) -> list[Action]:
    status = Status.CONFIRMED if action.verb is Verb.CONFIRM else Status.REJECTED
    async with svc.db.uow() as uow:
        changed = await uow.reports.decide(
            action.report_id, status=status, by=presser_id, at=press.now, reject_reason=action.reason
        )
        report = await uow.reports.get(action.report_id)
        assert report is not None
        if changed:
            await uow.events.add(
                project_id=report.project_id,
                phone=report.phone,
                kind=EventKind.CONFIRMED if status is Status.CONFIRMED else EventKind.REJECTED,
                actor_id=presser_id,
                at=press.now,
                report_id=report.id,
                detail=REJECT_LABELS[action.reason] if action.reason else None,
            )
            canvasser_chat = await private_chat_of(uow, report.canvasser_id, press.channel)
            await uow.commit()
    text, buttons = card(svc, report)
    edit = Edit(press.chat_id, press.message_id, text, buttons)
    if not changed:  # somebody else decided a moment earlier
        return [edit, Alert(svc.render("already_decided.j2", r=report))]
    actions: list[Action] = [edit, Alert(svc.render("decided_alert.j2", r=report))]
    if canvasser_chat:
        actions.append(Send(canvasser_chat, svc.render("decision_told.j2", r=report)))
    return actions
