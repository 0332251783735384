"""Use cases after the report: /follow logs a follow-up; /rereport re-reports an expired customer."""

from __future__ import annotations

import re
from dataclasses import replace

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.handlers.report import handle_report
from reportbot.handlers.who import RECEIPT
from reportbot.rules.args import labelled
from reportbot.rules.model import EventKind, Project, Role, Staff, Status
from reportbot.rules.phone import Phone, looks_like_phone, parse_phone

NOTE_MAX = 200


async def handle_follow(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """'/follow BB-20261123-0001 已电话回访，周末再来' — by the canvasser, or an assistant for them."""
    target, _, note = args.strip().partition(" ")
    note = svc.scrub(note.strip())
    if not target or not note or len(note) > NOTE_MAX:
        return [Send(msg.chat_id, svc.render("usage.j2", command="follow", problem=None))]
    async with svc.db.uow() as uow:
        report, phone_hash = None, None
        if RECEIPT.match(target):
            found = await uow.reports.by_receipt([project.id], target.upper())
            report = found[0] if found else None
            phone = report.phone if report else None
        else:
            parsed = parse_phone(target, svc.policy.mask_suffix_digits) if looks_like_phone(target) else None
            phone = parsed.masked if isinstance(parsed, Phone) else None
            phone_hash = svc.phone_hash(parsed) if isinstance(parsed, Phone) else None
            report = await uow.reports.latest_for(project.id, phone) if phone else None
        visit = await uow.visits.of_customer(project.id, phone, phone_hash) if phone else None
        holder = visit.owner_id if visit else (report.canvasser_id if report else None)
        if phone is None or (report is None and visit is None):
            return [Send(msg.chat_id, svc.render("who_none.j2", query=target[:20]))]
        if holder != sender.id and not sender.role.at_least(Role.ASSISTANT):
            return [Send(msg.chat_id, svc.render("follow_not_yours.j2"))]
        await uow.follow_ups.add(project.id, phone, report.id if report else None, sender.id, msg.now, note)
        await uow.events.add(project_id=project.id, phone=phone, kind=EventKind.FOLLOWED_UP, actor_id=sender.id,
                             at=msg.now, report_id=report.id if report else None, detail=note[:200])
        if visit is not None:
            await uow.visits.touch(visit.id, msg.now)
        await uow.commit()
    return [Send(msg.chat_id, svc.render("followed.j2", phone=phone, note=note))]


_LABELLED_REASON = re.compile(r"(原因|到访|时间)\s*[:：]")


async def handle_rereport(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """'/rereport BB-20261123-0001 客户出差 周六上午10点': the expired report again, with a reason."""
    receipt, _, rest = args.strip().partition(" ")
    if not RECEIPT.match(receipt) or not rest.strip():
        return [Send(msg.chat_id, svc.render("usage.j2", command="rereport", problem=None))]
    if _LABELLED_REASON.search(rest):
        _, values = labelled(rest)
        reason, when = values.get("reason", ""), values.get("appointment") or values.get("time", "")
    else:
        reason, _, when = rest.strip().partition(" ")
    async with svc.db.uow(write=False) as uow:
        found = await uow.reports.by_receipt([project.id], receipt.upper())
    if not found:
        return [Send(msg.chat_id, svc.render("who_none.j2", query=receipt))]
    old = found[0]
    if old.status is not Status.EXPIRED:
        return [Send(msg.chat_id, svc.render("not_expired.j2", r=old))]
    text = (
        f"报备\n客户：{old.customer}\n电话：{old.phone}\n队名：{old.team}\n拓客：{old.canvasser_name}\n"
        f"到访：{when.strip()}\n原因：{reason.strip()}"
    )
    return await handle_report(replace(msg, text=text), sender, project, svc)
