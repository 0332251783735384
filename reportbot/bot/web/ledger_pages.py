"""The web's pages, part two: the ledger (``/ledger``, ``/customer``, ``/ledger.xlsx``), the statistics
(``/stats``) and my reports (``/me``, ``/qr/<code>.svg``)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from reportbot.bot.web import charts
from reportbot.bot.web.pages import _int, _not_found, _viewer, _web
from reportbot.bot.web.server import FORM, page_role
from reportbot.handlers import ledger
from reportbot.handlers.export import export_ledger
from reportbot.handlers.stats import compute_stats
from reportbot.handlers.web_access import qr_svg
from reportbot.rules import visit_code
from reportbot.rules.model import Project, Role, Status
from reportbot.rules.stats import (
    MEASURE_LABELS,
    Line,
    Measure,
    PeriodProblem,
    month_of,
    parse_period,
    week_of,
)

# -- the ledger --------------------------------------------------------------------------------------


def _ask(project: Project, values: Any) -> ledger.LedgerAsk:
    return ledger.LedgerAsk(
        project_id=project.id, status=str(values.get("status") or "") or None, team=str(values.get("team") or "")[:20]
        or None, canvasser_id=_int(values.get("canvasser")), first_day=_day(values.get("from")),
        last_day=_day(values.get("to")), query=str(values.get("q") or "")[:40] or None,
        newest_first=values.get("order") != "old", after=str(values.get("after") or "")[:40] or None,
    )


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


async def ledger_page(request: web.Request) -> web.StreamResponse:
    state, viewer = _web(request), _viewer(request)
    project = viewer.project(_int(request.query.get("project")))
    if project is None:
        return _not_found(request) if request.query.get("project") else state.page(
            request, "error.html", status=404, problem="no_project")
    ask = _ask(project, request.query)
    result = await ledger.page(state.services, project, ask)
    base = {k: v for k, v in request.query.items() if k != "after"}
    next_url = "/ledger?" + urlencode({**base, "after": result.next_after}) if result.next_after else None
    return state.page(request, "ledger.html", project=project, ask=ask, page=result, next_url=next_url,
                      statuses=list(Status), export=viewer.may(page_role("export")),
                      export_url="/ledger.xlsx?" + urlencode({"project": project.id, "from": request.query.get("from", ""),
                                                              "to": request.query.get("to", "")}))


async def ledger_search(request: web.Request) -> web.StreamResponse:
    """The filter form is POSTed (its search box may hold a full number): answered with the masked URL."""
    state, form = _web(request), request[FORM]
    params = {k: str(form.get(k, ""))[:40] for k in ("project", "status", "team", "canvasser", "from", "to", "order")}
    params["q"] = ledger.masked_query(state.services, str(form.get("q", "")))
    raise web.HTTPSeeOther("/ledger?" + urlencode({k: v for k, v in params.items() if v}))


async def customer_page(request: web.Request) -> web.StreamResponse:
    state, viewer = _web(request), _viewer(request)
    project = viewer.project(_int(request.query.get("p")))
    phone = request.query.get("phone", "")
    if project is None or len(phone) != 11:
        return _not_found(request)
    check = request.query.get("check") == "1" and viewer.may(Role.MANAGER)
    found = await ledger.customer(state.services, project, phone, check)
    if found is None:
        return _not_found(request)
    return state.page(request, "customer.html", c=found)


async def ledger_xlsx(request: web.Request) -> web.StreamResponse:
    state, viewer = _web(request), _viewer(request)
    project = viewer.project(_int(request.query.get("project")))
    if project is None:
        return _not_found(request)
    local = state.now().astimezone(state.services.tz)
    first, last = _day(request.query.get("from")), _day(request.query.get("to"))
    text = f"{first}..{last}" if first and last else "month"
    period = parse_period(text, local)
    if isinstance(period, PeriodProblem):
        return state.page(request, "error.html", status=400, problem="period")
    book = await export_ledger(state.services, project, period, state.now())
    data = await asyncio.to_thread(book.build)
    from urllib.parse import quote

    return web.Response(body=data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(book.filename)}"})


# -- the statistics ----------------------------------------------------------------------------------

CHARTED = (Measure.REPORTS, Measure.VISITS, Measure.DEALS)


async def stats_page(request: web.Request) -> web.StreamResponse:
    state, viewer = _web(request), _viewer(request)
    project = viewer.project(_int(request.query.get("project")))
    if project is None:
        return _not_found(request) if request.query.get("project") else state.page(
            request, "error.html", status=404, problem="no_project")
    local = state.now().astimezone(state.services.tz)
    asked = str(request.query.get("period") or "week")[:30]
    period = parse_period(asked, local)
    if isinstance(period, PeriodProblem):
        period = parse_period("week", local)
        assert not isinstance(period, PeriodProblem)
    weeks: list[tuple[str, Line]] = []
    months: list[tuple[str, Line]] = []
    async with state.services.db.uow(write=False) as uow:
        stats = await compute_stats(uow, project, period)
        day = local.date()
        for back in range(7, -1, -1):
            first, last = week_of(day.fromordinal(day.toordinal() - 7 * back))
            p = parse_period(f"{first}..{last}", local)
            assert not isinstance(p, PeriodProblem)
            weeks.append((f"{first:%m-%d}", (await compute_stats(uow, project, p)).total))
        month = day.replace(day=1)
        for _ in range(6):
            first, last = month_of(month)
            p = parse_period(f"{first}..{last}", local)
            assert not isinstance(p, PeriodProblem)
            months.insert(0, (f"{first:%Y-%m}", (await compute_stats(uow, project, p)).total))
            month = (month.replace(day=1).fromordinal(month.toordinal() - 1)).replace(day=1)
    bars = charts.bar_chart([(block.total.team or "—", [block.total[m] for m in CHARTED]) for block in stats.teams],
                            [MEASURE_LABELS[m] for m in CHARTED], title="各队 报备 / 到访 / 成交")
    weekly = charts.line_chart([(label, [line[m] for m in CHARTED]) for label, line in weeks],
                               [MEASURE_LABELS[m] for m in CHARTED], title="近8周")
    monthly = charts.line_chart([(label, [line[m] for m in CHARTED]) for label, line in months],
                                [MEASURE_LABELS[m] for m in CHARTED], title="近6个月")
    return state.page(request, "stats.html", project=project, stats=stats, M=Measure, labels=MEASURE_LABELS,
                      bars=bars, weekly=weekly, monthly=monthly, period_asked=asked)


# -- my reports --------------------------------------------------------------------------------------


async def me_page(request: web.Request) -> web.StreamResponse:
    state, viewer = _web(request), _viewer(request)
    async with state.services.db.uow(write=False) as uow:
        reports = await uow.reports.active_of(viewer.staff.id)
    web_links = state.services.web
    codes = {r.id: web_links.visit_code(r.id) for r in reports} if web_links else {}
    return state.page(request, "me.html", reports=reports, codes=codes)


async def qr_image(request: web.Request) -> web.StreamResponse:
    """The QR of a visit code: the canvasser's own report, or one of the desk's projects."""
    state, viewer = _web(request), _viewer(request)
    web_links = state.services.web
    rid = visit_code.decode(request.match_info["code"][:40], web_links.code_key) if web_links else None
    if rid is None or web_links is None:
        return _not_found(request)
    async with state.services.db.uow(write=False) as uow:
        report = await uow.reports.get(rid)
    mine = report is not None and report.canvasser_id == viewer.staff.id
    desk_may = report is not None and viewer.may(page_role("desk")) and viewer.project(report.project_id) is not None
    if not (mine or desk_may):
        return _not_found(request)
    svg = await asyncio.to_thread(qr_svg, web_links.visit_url(rid))
    return web.Response(text=svg, content_type="image/svg+xml")
