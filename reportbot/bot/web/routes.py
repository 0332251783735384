"""The web's routes, in the order people meet them: sign in, the desk, the ledger, the statistics, my
reports, sign out; each page behind ``needs`` (signed in, the page's role, CSRF on a POST)."""

from __future__ import annotations

from aiohttp import web

from reportbot.bot.web.ledger_pages import (
    customer_page,
    ledger_page,
    ledger_search,
    ledger_xlsx,
    me_page,
    qr_image,
    stats_page,
)
from reportbot.bot.web.pages import (
    desk_page,
    desk_preview,
    desk_register,
    desk_search,
    healthz,
    home,
    login,
    login_page,
    logout,
    needs,
    scanned,
)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", home)
    app.router.add_get("/login/{token}", login_page)
    app.router.add_post("/login/{token}", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/desk", needs("desk")(desk_page))
    app.router.add_post("/desk", needs("desk")(desk_search))
    app.router.add_get("/desk/customer", needs("desk")(desk_preview))
    app.router.add_post("/desk/visit", needs("desk")(desk_register))
    app.router.add_get("/v/{code}", needs("desk")(scanned))
    app.router.add_get("/ledger", needs("ledger")(ledger_page))
    app.router.add_post("/ledger", needs("ledger")(ledger_search))
    app.router.add_get("/customer", needs("customer")(customer_page))
    app.router.add_get("/ledger.xlsx", needs("export")(ledger_xlsx))
    app.router.add_get("/stats", needs("stats")(stats_page))
    app.router.add_get("/me", needs("me")(me_page))
    app.router.add_get("/qr/{code}.svg", needs("me")(qr_image))
    app.router.add_get("/healthz", healthz)
