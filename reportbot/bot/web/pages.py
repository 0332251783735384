"""The web's pages, part one: what every page needs (the guard, the viewer), signing in and out, the desk
(``/desk``: search, preview, register; ``/v/<code>``: a scanned 带看 code) and ``/healthz``. Each page
decodes its request into plain values, calls a use case, renders a template. The ledger, the statistics
and my reports are in bot/web/ledger_pages.py; the routes of both in bot/web/routes.py.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from reportbot.bot.web.server import FORM, VIEWER, WEB, Web, page_role
from reportbot.bot.web.sessions import Viewer, csrf_ok, sign_in, sign_out
from reportbot.handlers import desk, ledger, status
from reportbot.handlers.web_access import token_hash
from reportbot.rules import visit_code
from reportbot.rules.ownership import RULE_LABELS
from reportbot.rules.privacy import contains_full_number

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOKUP_FOR = 600.0  # seconds a desk lookup made from a full number is kept (its hash only)


def _web(request: web.Request) -> Web:
    return request.app[WEB]


def _viewer(request: web.Request) -> Viewer:
    viewer: Viewer = request[VIEWER]  # set by the session middleware (bot/web/sessions.py)
    return viewer


def _see_other(location: str) -> web.Response:
    """A 303 to answer with (not to raise): for a response that also sets or deletes the cookie."""
    return web.Response(status=303, headers={"Location": location})


def needs(page: str) -> Callable[[Handler], Handler]:
    """Signed in, with the role of the page's command; a POST with the session's CSRF token."""
    role = page_role(page)

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            viewer = request.get(VIEWER)
            if viewer is None:
                return _web(request).page(request, "signed_out.html", status=401, target=page)
            if not viewer.may(role):
                return _web(request).page(request, "error.html", status=403, problem="forbidden", page=page)
            if request.method == "POST":
                form = await request.post()
                if not csrf_ok(viewer, form.get("csrf")):
                    return _web(request).page(request, "error.html", status=403, problem="csrf")
                request[FORM] = form
            return await handler(request)

        return guarded

    return wrap


def _not_found(request: web.Request) -> web.Response:
    return _web(request).page(request, "error.html", status=404, problem="not_found")


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 12 else None


def _address(request: web.Request) -> str:
    """Who is asking, for the rate limit: the peer, or behind a proxy on this host (the TLS proxy docs/web.md
    advises) the address that proxy added last to X-Forwarded-For — the earlier ones the client may write."""
    peer = request.remote or "?"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and _loopback(peer):
        return forwarded.split(",")[-1].strip() or peer
    return peer


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


# -- sign in and out ---------------------------------------------------------------------------------


async def home(request: web.Request) -> web.StreamResponse:
    viewer = request.get(VIEWER)
    if viewer is None:
        return _web(request).page(request, "signed_out.html", target=None)
    raise web.HTTPSeeOther("/desk" if viewer.may(page_role("desk")) else "/me")


async def login_page(request: web.Request) -> web.StreamResponse:
    """The link opened: a button to sign in (a link preview fetching the URL must not use it up)."""
    if _web(request).limits.blocked(_address(request)):
        return _web(request).page(request, "error.html", status=429, problem="too_many")
    return _web(request).page(request, "login.html", token=request.match_info["token"][:100])


async def login(request: web.Request) -> web.StreamResponse:
    state = _web(request)
    if state.limits.blocked(_address(request)):
        return state.page(request, "error.html", status=429, problem="too_many")
    response = _see_other("/")
    staff = await sign_in(state, token_hash(request.match_info["token"][:100]), response)
    if staff is None:
        state.limits.failed(_address(request))
        return state.page(request, "error.html", status=403, problem="link_used")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    viewer = request.get(VIEWER)
    response = _see_other("/")
    if viewer is not None:
        form = await request.post()
        if not csrf_ok(viewer, form.get("csrf")):
            return _web(request).page(request, "error.html", status=403, problem="csrf")
        await sign_out(_web(request), viewer, response)
    return response


# -- the desk ----------------------------------------------------------------------------------------


async def desk_page(request: web.Request) -> web.StreamResponse:
    """The desk; ``?q=`` searches at once (a link to a masked phone, a receipt, a name or a visit code).

    A full number in the address is not searched: it is already in a URL, the page asks for it in the box
    (whose search is POSTed) instead of leading it further."""
    query = request.query.get("q", "")[:60]
    if not query.strip():
        return _web(request).page(request, "desk.html", found=None, query="", problem=None)
    if contains_full_number(query):
        return _web(request).page(request, "desk.html", found=None, query="", problem=None, full_in_url=True)
    return await _desk_found(request, query)


async def desk_search(request: web.Request) -> web.StreamResponse:
    """A search is POSTed (a full number must not be in a URL); one customer: to its preview."""
    return await _desk_found(request, str(request[FORM].get("q", ""))[:60])


async def _desk_found(request: web.Request, query: str) -> web.StreamResponse:
    state, viewer = _web(request), _viewer(request)
    found = await desk.search(state.services, viewer.projects, query)
    shown = ledger.masked_query(state.services, query)
    if found.code_ended is not None:
        return state.page(request, "desk.html", found=None, query="", problem=None, ended=found.code_ended)
    if len(found.lookups) == 1:
        raise web.HTTPSeeOther(_preview_url(state, found.lookups[0]))
    links = [(lk, _preview_url(state, lk)) for lk in found.lookups]
    return state.page(request, "desk.html", found=links, query=shown, problem=found.problem)


def _preview_url(state: Web, lookup: desk.Lookup) -> str:
    params: dict[str, Any] = {"p": lookup.project.id, "phone": lookup.phone}
    if lookup.brought_by:
        params["by"] = lookup.brought_by
    if lookup.exact is not None:  # a full number was typed: its keyed hash stays here, the page gets a handle
        key = secrets.token_urlsafe(12)
        state.lookups[key] = (time.monotonic() + LOOKUP_FOR, lookup.exact)
        for stale in [k for k, (until, _) in state.lookups.items() if until < time.monotonic()]:
            del state.lookups[stale]
        params["k"] = key
    return "/desk/customer?" + urlencode(params)


def _lookup(request: web.Request, values: Any) -> desk.Lookup | None:
    """The customer a preview or a registration is about, one of the viewer's own (else None: 404)."""
    state, viewer = _web(request), _viewer(request)
    project = viewer.project(_int(values.get("p")))
    masked = str(values.get("phone", ""))
    if project is None or len(masked) != 11 or "*" not in masked:
        return None
    kept = state.lookups.get(str(values.get("k", "")))
    exact = kept[1] if kept is not None and kept[0] > time.monotonic() else None
    return desk.Lookup(project, masked, _int(values.get("by")), exact)


async def desk_preview(request: web.Request) -> web.StreamResponse:
    lookup = _lookup(request, request.query)
    if lookup is None:
        return _not_found(request)
    state = _web(request)
    seen = await desk.preview(state.services, lookup)
    return state.page(request, "preview.html", v=seen, k=request.query.get("k", ""))


async def desk_register(request: web.Request) -> web.StreamResponse:
    form = request[FORM]
    lookup = _lookup(request, form)
    if lookup is None:
        return _not_found(request)
    state, viewer = _web(request), _viewer(request)
    companions = min(_int(form.get("companions")) or 0, 20)
    brought = _int(form.get("by")) or None
    done = await desk.register(state.services, viewer.staff, lookup, companions, brought, state.now())
    state.route(done.answers)  # the notices: sent here on the channels this process runs, else by theirs
    seen = await desk.preview(state.services, lookup)
    rule = RULE_LABELS[done.announcement.rule] if done.announcement else None
    return state.page(request, "registered.html", done=done, v=seen, rule=rule)


async def scanned(request: web.Request) -> web.StreamResponse:
    """A scanned 带看 code: the desk on its report, brought by its canvasser."""
    state = _web(request)
    if state.limits.blocked(_address(request)):
        return state.page(request, "error.html", status=429, problem="too_many")
    web_links = state.services.web
    rid = visit_code.decode(request.match_info["code"][:40], web_links.code_key) if web_links else None
    found = None if rid is None else await desk.from_code(state.services, _viewer(request).projects, rid)
    if found is not None and found.code_ended is not None:
        return state.page(request, "desk.html", found=None, query="", problem=None, ended=found.code_ended)
    if found is None or not found.lookups:
        state.limits.failed(_address(request))
        return _not_found(request)
    raise web.HTTPSeeOther(_preview_url(state, found.lookups[0]))


async def healthz(request: web.Request) -> web.StreamResponse:
    state = _web(request)
    found = await status.check(state.services.db, state.now())
    return web.json_response(found.as_json(), status=200 if found.healthy else 503)
