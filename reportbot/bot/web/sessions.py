"""Signed-in browsers: server-side sessions behind an HttpOnly cookie (SPEC §12).

Opening a sign-in link (``/login/<token>``) shows a button; pressing it redeems the token — once, within
its ten minutes, for the person it was made for — and starts a session: a random cookie value whose
SHA-256 is stored with the person, their role, team and name at that moment, and a CSRF token. The cookie
is HttpOnly, SameSite=Lax, Secure behind https. A session ends on sign-out, after 12 hours unused or 7 days
in all, when the person's role, team or name changes (or they are gone), and with
``reportbot web revoke --staff ID``. (A link is redeemed by a POST, not by opening it: a chat app that
fetches links for a preview must not use it up.)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from reportbot.rules.model import Project, Role, Staff
from reportbot.storage.transport_tables import WebSessionRow
from reportbot.storage.uow import Work

if TYPE_CHECKING:  # server.py imports this module (lazily); the type only is wanted here
    from reportbot.bot.web.server import Web

COOKIE = "rb_session"
IDLE = timedelta(hours=12)
LONGEST = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)  # last use is written at most this often (not a write per page)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """The signed-in person, the session and the projects they may see."""

    staff: Staff
    session_id: int
    csrf: str
    projects: list[Project]

    def may(self, role: Role) -> bool:
        return self.staff.role.at_least(role)

    @property
    def may_manage(self) -> bool:
        return self.may(Role.MANAGER)

    def project(self, project_id: int | None) -> Project | None:
        """One of their projects (the first when none is named); None when it is not theirs."""
        if project_id is None:
            return self.projects[0] if self.projects else None
        return next((p for p in self.projects if p.id == project_id), None)


async def projects_of(uow: Work, staff: Staff) -> list[Project]:
    """As in chat: managers and admins every project; the others their own (or the only one there is)."""
    every = await uow.projects.all()
    if staff.role.at_least(Role.MANAGER):
        return every
    if staff.default_project_id is not None:
        return [p for p in every if p.id == staff.default_project_id]
    return every if len(every) == 1 else []


@web.middleware
async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
    """Find the request's session, if any, and end it when it must end."""
    from reportbot.bot.web.server import VIEWER, WEB

    state = request.app[WEB]
    cookie = request.cookies.get(COOKIE)
    ended = False
    if cookie:
        viewer, ended = await _viewer(state, cookie)
        if viewer is not None:
            request[VIEWER] = viewer
    response = await handler(request)
    if ended:
        response.del_cookie(COOKIE, path="/")
    return response


async def _viewer(state: Web, cookie: str) -> tuple[Viewer | None, bool]:
    """(the viewer, whether a session was ended now).

    A page is a read: the session, the person and their projects come from a read transaction, and
    a write is taken only to end a session or to note its use (at most once a minute), so that pages
    neither wait for nor hold up the bot's writer."""
    svc, now = state.services, state.now()
    async with svc.db.uow(write=False) as uow:
        session = await uow.web.session_by_hash(digest(cookie))
        if session is None or session.ended_at is not None:
            return None, False
        staff = await uow.staff.get(session.staff_id)
        projects = await projects_of(uow, staff) if staff is not None else []
    reason = None
    if staff is None or (staff.role.value, staff.team, staff.name) != (session.role, session.team, session.name):
        reason = "registration changed"
    elif now - session.last_seen_at > IDLE:
        reason = "idle"
    elif now - session.started_at > LONGEST:
        reason = "too old"
    if reason is not None or now - session.last_seen_at > TOUCH_EVERY:
        async with svc.db.uow() as uow:
            if reason is not None:
                await uow.web.end(session.id, reason, now)
            else:
                await uow.web.touch(session.id, now)
            await uow.commit()
    if reason is not None:
        return None, True
    assert staff is not None
    return Viewer(staff, session.id, session.csrf, projects), False


async def sign_in(state: Web, token_hash: str, response: web.StreamResponse) -> Staff | None:
    """Redeem a sign-in link and start a session on ``response``; the person, or None (used, expired, unknown)."""
    svc, now = state.services, state.now()
    cookie = secrets.token_urlsafe(32)
    async with svc.db.uow() as uow:
        staff_id = await uow.web.redeem_token(token_hash, now)
        staff = await uow.staff.get(staff_id) if staff_id is not None else None
        if staff is None:
            await uow.commit()
            return None
        await uow.web.open_session(WebSessionRow(
            session_hash=digest(cookie), staff_id=staff.id, csrf=secrets.token_urlsafe(24), role=staff.role.value,
            team=staff.team, name=staff.name, started_at=now, last_seen_at=now,
        ))
        await uow.commit()
    response.set_cookie(COOKIE, cookie, max_age=int(LONGEST.total_seconds()), path="/", httponly=True,
                        secure=state.secure_cookies, samesite="Lax")
    return staff


async def sign_out(state: Web, viewer: Viewer, response: web.StreamResponse) -> None:
    svc = state.services
    async with svc.db.uow() as uow:
        await uow.web.end(viewer.session_id, "signed out", state.now())
        await uow.commit()
    response.del_cookie(COOKIE, path="/")


def csrf_ok(viewer: Viewer, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), viewer.csrf.encode())
