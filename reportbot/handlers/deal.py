"""Use case: /deal — record a deal (成交) for the customer's owner, so that conversion counts (SPEC §2)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from reportbot.handlers.context import Services
from reportbot.handlers.identity import private_chat_of
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.handlers.who import RECEIPT
from reportbot.rules import privacy
from reportbot.rules.model import Deal, EventKind, Project, Staff
from reportbot.rules.phone import parse_phone
from reportbot.rules.refusal import Refusal
from reportbot.storage.tables import DealRow

NOTE_MAX = 200


def _usage(svc: Services, msg: Incoming, problem: str | None = None) -> list[Action]:
    return [Send(msg.chat_id, svc.render("usage.j2", command="deal", problem=problem))]


async def handle_deal(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """'/deal BB-20261123-0001 认购3号楼1201' or '/deal 138***88888': the visited customer bought."""
    target, _, note = args.strip().partition(" ")
    note = privacy.mask_full_numbers(note.strip(), svc.policy.mask_suffix_digits)
    if not target:
        return _usage(svc, msg)
    if len(note) > NOTE_MAX:
        return _usage(svc, msg, svc.render("deal_note_too_long.j2", limit=NOTE_MAX))
    if RECEIPT.match(target):
        async with svc.db.uow(write=False) as uow:
            found = await uow.reports.by_receipt([project.id], target.upper())
        if not found:
            return [Send(msg.chat_id, svc.render("who_none.j2", query=target[:20]))]
        phone = found[0].phone
    else:
        parsed = parse_phone(target, svc.policy.mask_suffix_digits)
        if isinstance(parsed, Refusal):
            return _usage(svc, msg, svc.render.refusal(parsed))
        phone = parsed.masked
    try:
        deal, new = await _record(svc, project, sender, phone, note or None, msg)
    except IntegrityError:  # recorded at the same moment by someone else: theirs stands
        deal, new = await _record(svc, project, sender, phone, note or None, msg)
    if deal is None:
        return [Send(msg.chat_id, svc.render("deal_not_visited.j2", phone=phone))]
    text = svc.render("deal.j2", d=deal, new=new)
    actions: list[Action] = [Send(msg.chat_id, text)]
    if new and deal.owner_id is not None:
        async with svc.db.uow(write=False) as uow:
            owner_chat = await private_chat_of(uow, deal.owner_id, msg.channel)
        if owner_chat and owner_chat != msg.chat_id:
            actions.append(Send(owner_chat, text))
    return actions


async def _record(
    svc: Services, project: Project, sender: Staff, phone: str, note: str | None, msg: Incoming
) -> tuple[Deal | None, bool]:
    """The customer's deal (new or the one recorded before); None when the customer never visited."""
    async with svc.db.uow() as uow:
        earlier = await uow.deals.of_customer(project.id, phone)
        if earlier is not None:
            return earlier, False
        visit = await uow.visits.of_customer(project.id, phone)
        if visit is None:
            return None, False
        deal = await uow.deals.add(
            DealRow(project_id=project.id, phone=phone, visit_id=visit.id, report_id=visit.report_id,
                    owner_id=visit.owner_id, team=visit.owner_team, at=msg.now, recorded_by_id=sender.id, note=note)
        )
        owner = f"{visit.owner_name}（{visit.owner_team}）" if visit.owner_name else "案场"
        await uow.events.add(project_id=project.id, phone=phone, kind=EventKind.DEAL, actor_id=sender.id, at=msg.now,
                             report_id=visit.report_id, detail=(f"归属：{owner}" + (f"；{note}" if note else ""))[:200])
        await uow.commit()
    return deal, True
