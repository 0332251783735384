"""Use case: /forget — a manager erases a customer's name and phone, keeping the anonymous skeleton (SPEC §9)."""

from __future__ import annotations

from reportbot.handlers.context import Services, Unit
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.handlers.who import RECEIPT
from reportbot.rules.model import EventKind, Project, Staff
from reportbot.rules.phone import Phone, looks_like_phone, parse_phone
from reportbot.rules.privacy import is_tombstone, tombstone

CONFIRM_WORDS = ("确认", "confirm")


async def handle_forget(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """'/forget 138***88888' shows what would go; '/forget 138***88888 确认' erases it."""
    target, _, rest = args.strip().partition(" ")
    confirmed = rest.strip().lower() in CONFIRM_WORDS
    if not target or (rest.strip() and not confirmed):
        return [Send(msg.chat_id, svc.render("usage.j2", command="forget", problem=None))]
    async with svc.db.uow() as uow:
        phone = await _customer_key(uow, project, target, svc)
        if phone is None:
            return [Send(msg.chat_id, svc.render("who_none.j2", query=target[:20]))]
        if is_tombstone(phone):
            return [Send(msg.chat_id, svc.render("forget_done.j2", stone=phone, already=True, f=None))]
        found = await uow.erasure.footprint(project.id, phone)
        if found.empty or found.first_event_id is None:
            return [Send(msg.chat_id, svc.render("who_none.j2", query=phone))]
        key = target.upper() if RECEIPT.match(target) else phone
        if not confirmed:
            return [Send(msg.chat_id, svc.render("forget_confirm.j2", phone=phone, key=key, f=found))]
        stone = tombstone(found.first_event_id)
        await uow.erasure.forget(project.id, phone, stone)
        # The record that a forget happened: who and when, under the anonymous key; nothing personal.
        await uow.events.add(project_id=project.id, phone=stone, kind=EventKind.FORGOTTEN, actor_id=sender.id,
                             at=msg.now, detail=f"报备{found.reports}份、到访{found.visits}次、跟进{found.follow_ups}条")
        await uow.commit()
    await svc.db.after_commit(svc.db.settle)  # inside the delivery's transaction it would wait for it
    return [Send(msg.chat_id, svc.render("forget_done.j2", stone=stone, already=False, f=found))]


async def _customer_key(uow: Unit, project: Project, target: str, svc: Services) -> str | None:
    """The masked key (or a tombstone) a phone or receipt number names in this project."""
    if RECEIPT.match(target):
        found = await uow.reports.by_receipt([project.id], target.upper())
        return found[0].phone if found else None
    if looks_like_phone(target):
        phone = parse_phone(target, svc.policy.mask_suffix_digits)
        return phone.masked if isinstance(phone, Phone) else None
    return None
