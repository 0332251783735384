"""Use case: /mine — my active reports and the time each has left (SPEC §8)."""

from __future__ import annotations

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.rules.model import Staff


async def handle_mine(msg: Incoming, sender: Staff, svc: Services) -> list[Action]:
    async with svc.db.uow(write=False) as uow:
        reports = await uow.reports.active_of(sender.id)
    my_page = f"{svc.web.base_url}/me" if svc.web is not None else None  # the web's 我的报备, with QR codes
    return [Send(msg.chat_id, svc.render("mine.j2", reports=reports, me=sender, now=msg.now, my_page=my_page))]
