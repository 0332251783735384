"""The web transport (SPEC §12): the front desk, the ledger, the statistics and my reports, in a browser.

A page is one more transport: a request is decoded into plain values, the same use cases answer it
(handlers/desk.py, ledger.py, stats, export, who), a template renders the answer. Pages work without
JavaScript (the camera's scan is the one exception) and are made phone first.

**Who may see what.** A person signs in with a one-time link from the bot (/web: handlers/web_access.py);
the session lives server-side (bot/web/sessions.py). Each page stands for a chat command and asks that
command's role (``PAGES``: the page × role matrix is the command table's); a person sees only their own
projects, as in chat, and another project's customer is 404, not 403.

**A page on the internet is attacked.** Every value is escaped (templates/web/, autoescape); no full
phone number goes into a page, a URL or a log (searches are POSTed and answered with the masked number);
every state change carries the session's CSRF token; CSP allows no inline script; frames are refused; no
referrer leaves; pages with personal data are not cached; sign-in links and visit codes are rate-limited
per address. A visit registered here is the same event as /visit, naming the person and "网页".
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from reportbot.handlers.context import Services
from reportbot.handlers.delivery import Queued
from reportbot.handlers.export import EVENT_LABELS
from reportbot.handlers.messages import Action
from reportbot.handlers.render import Renderer
from reportbot.handlers.router import BY_NAME
from reportbot.rules.model import Role
from reportbot.scheduler.clock import Clock

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
# Each page stands for the chat command whose role it asks (the page × role matrix is the command table's).
PAGES: dict[str, str] = {
    "desk": "visit", "customer": "who", "ledger": "who", "export": "export", "stats": "stats", "me": "mine",
}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


VIEWER: web.RequestKey[Any] = web.RequestKey("viewer")  # bot/web/sessions.Viewer, when signed in
FORM: web.RequestKey[Any] = web.RequestKey("form")  # a POST's form, its CSRF token checked


def page_role(page: str) -> Role:
    return BY_NAME[PAGES[page]].min_role


KEPT_ADDRESSES = 10_000


class GuessLimit:
    """At most ``count`` failed tries per ``period`` seconds per key (an address): sign-in links and visit codes.

    Only failures count — a used or unknown link, a forged code — for those are what guessing makes; a busy
    desk scanning code after code behind the office's one address is never held up."""

    def __init__(self, count: int = 20, period: float = 600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.count, self.period, self.clock = count, period, clock
        self._failures: dict[str, deque[float]] = {}

    def blocked(self, key: str) -> bool:
        failures = self._failures.get(key)
        if not failures:
            return False
        while failures and failures[0] <= self.clock() - self.period:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return len(failures) >= self.count

    def failed(self, key: str) -> None:
        self._failures.setdefault(key, deque()).append(self.clock())
        if len(self._failures) > KEPT_ADDRESSES:  # memory stays bounded under guessing from many addresses
            quiet = self.clock() - self.period
            for stale in [k for k, v in self._failures.items() if v[-1] <= quiet]:
                del self._failures[stale]
            while len(self._failures) > KEPT_ADDRESSES:  # still too many: the longest-known go first
                del self._failures[next(iter(self._failures))]


Route = Callable[[Sequence[Action | Queued]], None]


@dataclass
class Web:
    """What every page handler is handed (one per process, built in ``web_app``)."""

    services: Services
    clock: Clock
    secure_cookies: bool  # behind https: the session cookie is Secure
    route: Route  # sends stored answers on the channels this process runs (none: another process sends them)
    html: Renderer = field(init=False)
    limits: GuessLimit = field(default_factory=GuessLimit)
    lookups: dict[str, tuple[float, Any]] = field(default_factory=dict)  # desk: a typed full number's key

    def __post_init__(self) -> None:
        policy = self.services.policy
        self.html = Renderer(policy.timezone, policy.mask_suffix_digits, html=True)
        self.html.env.filters["event"] = lambda kind: EVENT_LABELS[kind]

    def now(self) -> datetime:
        return self.clock.now()

    def page(self, request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
        viewer = request.get(VIEWER)
        body = self.html(template, viewer=viewer, csrf=viewer.csrf if viewer else "", pages=_pages_for(viewer),
                         now=self.now(), **context)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


WEB: web.AppKey[Web] = web.AppKey("web")


def _pages_for(viewer: Any) -> list[tuple[str, str]]:
    """The navigation: the pages this person may open."""
    if viewer is None:
        return []
    names = [("desk", "判客台"), ("ledger", "台账"), ("stats", "统计"), ("me", "我的报备")]
    return [(name, label) for name, label in names if viewer.staff.role.at_least(page_role(name))]


@web.middleware
async def security_headers(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect or an error raised: the same headers on it
        _headed(request, exc)
        raise
    return _headed(request, response)


def _headed(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"  # pages carry personal data
    return response


def web_app(services: Services, clock: Clock, *, secure_cookies: bool, route: Route | None = None) -> web.Application:
    """The aiohttp application of the web (served by ``serve_web``, or by a test)."""
    from reportbot.bot.web import routes, sessions

    state = Web(services, clock, secure_cookies, route or (lambda answers: None))
    app = web.Application(middlewares=[security_headers, sessions.middleware], client_max_size=256 * 1024)
    app[WEB] = state
    routes.add_routes(app)
    app.router.add_static("/static/", STATIC, show_index=False, append_version=False)
    return app


async def serve_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Listen on host:port (behind a TLS proxy); the caller cleans the runner up."""
    runner = web.AppRunner(app, access_log=None)  # an access log would hold searches and sign-in links
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("web desk listening on %s:%s", host, port)
    return runner
