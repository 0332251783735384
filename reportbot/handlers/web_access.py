"""Use cases of the web from chat (SPEC §12): /web signs a person in, /qr shows a receipt's 带看 QR code.

``/web`` answers privately with a one-time sign-in link: ``WEB_URL/login/<token>``, good for one use and
ten minutes, bound to the person who asked. Only the token's SHA-256 is stored; the message is ephemeral
(never written to the outbox), so the link exists only in the chat it was sent to.

``/qr 回执号`` (and the button under a receipt) sends the QR image of ``WEB_URL/v/<visit code>``: scanned at
the front desk it opens the desk on that report, brought by its canvasser. The canvasser may have the
codes of their own reports; assistants and managers those of their projects.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from datetime import timedelta

from reportbot.handlers.callbacks import QrAction
from reportbot.handlers.context import Services
from reportbot.handlers.identity import find_sender, private_chat_of
from reportbot.handlers.messages import Action, Alert, Button, Incoming, Keyboard, Press, Send, SendPhoto
from reportbot.rules.model import Project, Report, Role, Staff

SIGN_IN_FOR = timedelta(minutes=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def handle_web(msg: Incoming, sender: Staff, svc: Services) -> list[Action]:
    """A one-time sign-in link, privately (in a group: a word there that it went privately)."""
    if svc.web is None:
        return [Send(msg.chat_id, svc.render("web_off.j2"))]
    private = msg.chat_id
    if msg.is_group:
        async with svc.db.uow(write=False) as uow:
            found = await private_chat_of(uow, sender.id, msg.channel)
        if found is None:
            return [Send(msg.chat_id, svc.render("web_link_private.j2", sent=False))]
        private = found
    token = secrets.token_urlsafe(32)
    async with svc.db.uow() as uow:
        await uow.web.issue_token(token_hash(token), sender.id, msg.now, msg.now + SIGN_IN_FOR)
        await uow.commit()
    link = f"{svc.web.base_url}/login/{token}"
    actions: list[Action] = [Send(private, svc.render("web_link.j2", link=link, me=sender,
                                                      minutes=int(SIGN_IN_FOR.total_seconds() // 60)),
                                  ephemeral=True)]
    if msg.is_group:
        actions.append(Send(msg.chat_id, svc.render("web_link_private.j2", sent=True)))
    return actions


def qr_keyboard(svc: Services, report: Report) -> Keyboard:
    """The button under a receipt that sends its QR code (none while the web is off)."""
    if svc.web is None:
        return ()
    return ((Button("带看二维码", QrAction(report.id).encode()),),)


async def handle_qr(msg: Incoming, sender: Staff, project: Project, args: str, svc: Services) -> list[Action]:
    """/qr 回执号: the visit QR of a report the sender may see."""
    if svc.web is None:
        return [Send(msg.chat_id, svc.render("web_off.j2"))]
    receipt = args.strip().upper()
    async with svc.db.uow(write=False) as uow:
        found = await uow.reports.by_receipt([project.id], receipt) if receipt else []
    report = found[0] if found else None
    if report is None or not _may_see(sender, report):
        return [Send(msg.chat_id, svc.render("qr_none.j2", receipt=receipt[:20]))]
    return [qr_photo(svc, msg.chat_id, report)]


async def handle_qr_press(press: Press, action: QrAction, svc: Services) -> list[Action]:
    """The 带看二维码 button under a receipt: the photo to the one who pressed it."""
    if svc.web is None:
        return [Alert(svc.render("web_off.j2"))]
    async with svc.db.uow(write=False) as uow:
        presser = await find_sender(uow, press.channel, press.sender_id)
        report = await uow.reports.get(action.report_id)
    if presser is None or report is None or not _may_see(presser, report):
        return [Alert(svc.render("qr_none.j2", receipt=""))]
    return [qr_photo(svc, press.sender_id, report)]


def _may_see(person: Staff, report: Report) -> bool:
    if person.role.at_least(Role.ASSISTANT):
        return person.default_project_id in (None, report.project_id) or person.role.at_least(Role.MANAGER)
    return report.canvasser_id == person.id


def qr_photo(svc: Services, chat_id: str, report: Report) -> SendPhoto:
    assert svc.web is not None
    url = svc.web.visit_url(report.id)
    caption = svc.render("qr_caption.j2", r=report, code=svc.web.visit_code(report.id), url=url)
    return SendPhoto(chat_id, lambda: qr_png(url), caption, f"带看-{report.receipt_no}.png")


def qr_png(url: str) -> bytes:
    import segno  # only where a QR is drawn

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=8, border=3)
    return out.getvalue()


def qr_svg(url: str) -> str:
    """The same QR as an SVG, for a page (scales on any screen, no image library)."""
    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=6, border=3, xmldecl=False, svgns=True,
                                    title="带看二维码", svgclass="qr", lineclass=None)
    return out.getvalue().decode()
