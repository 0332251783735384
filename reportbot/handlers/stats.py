"""Use case: /stats — the period's reports, duplicates, decisions, visits, expiries, re-reports and deals
per team and canvasser, as a short table and a chart (来人来电统计表, daily/weekly/monthly)."""

from __future__ import annotations

from functools import partial

from reportbot.documents.chart import render_chart
from reportbot.handlers.context import Services, Unit
from reportbot.handlers.messages import Action, Incoming, Send, SendPhoto
from reportbot.handlers.scope import resolve_scope
from reportbot.rules.model import Project, Staff
from reportbot.rules.stats import Measure, Period, Stats, aggregate


async def compute_stats(uow: Unit, project: Project, period: Period) -> Stats:
    return aggregate(await uow.stats.facts(project.id, period.start, period.end), period)


def stats_messages(svc: Services, chat_id: str, project: Project, stats: Stats) -> list[Send | SendPhoto]:
    """The table as text, then the chart as a photo (the chart's title is its caption), drawn when it is
    sent (``SendPhoto``): after the handling has committed, on a thread. Should drawing fail, the table
    has gone out all the same: the weekly digest's reminder row is claimed already."""
    title = svc.render("stats_title.j2", project=project, period=stats.period)
    table = svc.render("stats.j2", title=title, stats=stats, M=Measure)
    filename = f"stats-{stats.period.first:%Y%m%d}-{stats.period.last:%Y%m%d}.png"
    return [Send(chat_id, table), SendPhoto(chat_id, partial(render_chart, stats, title), title, filename)]


async def handle_stats(
    msg: Incoming, sender: Staff, project: Project | None, args: str, svc: Services
) -> list[Action]:
    scope = await resolve_scope(msg, sender, project, args, svc, "stats", default="today")
    if isinstance(scope, list):
        return scope
    async with svc.db.uow(write=False) as uow:
        stats = await compute_stats(uow, scope.project, scope.period)
    return [*stats_messages(svc, msg.chat_id, scope.project, stats)]
