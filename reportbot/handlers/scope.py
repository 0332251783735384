"""Which project and period a manager tool (/stats, /export) is about, and whether the asker may see it.

'/stats week', '/stats 2026-11-01..2026-11-30 森林半岛', '/export 上月': a period word and, optionally, a
project's name. Without a name it is the project of the chat (a group) or the asker's own. Managers and
admins may name any project; an assistant sees only their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportbot.handlers.context import Services
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.rules.model import Project, Role, Staff
from reportbot.rules.stats import Period, PeriodProblem, is_period, parse_period


@dataclass(frozen=True)
class Scope:
    project: Project
    period: Period


def _refuse(svc: Services, msg: Incoming, command: str, problem: str, **params: object) -> list[Action]:
    text = svc.render("scope_problem.j2", problem=problem, **params)
    return [Send(msg.chat_id, svc.render("usage.j2", command=command, problem=text))]


async def resolve_scope(
    msg: Incoming, sender: Staff, own: Project | None, args: str, svc: Services, command: str, default: str
) -> Scope | list[Action]:
    """The scope asked for, or the answer that says what is wrong with the request."""
    words = args.split()
    periods = [w for w in words if is_period(w)]
    name = " ".join(w for w in words if not is_period(w))
    if len(periods) > 1:
        return _refuse(svc, msg, command, "two_periods")
    period = parse_period(periods[0] if periods else default, msg.now.astimezone(svc.tz))
    if isinstance(period, PeriodProblem):
        return _refuse(svc, msg, command, f"period_{period.value}", given=periods[0][:30])
    project = own
    if name:
        async with svc.db.uow(write=False) as uow:
            project = await uow.projects.by_name(name)
            known = [p.name for p in await uow.projects.all()]
        if project is None:
            return _refuse(svc, msg, command, "project_unknown", given=name[:30], known=known)
        if not sender.role.at_least(Role.MANAGER) and (own is None or project.id != own.id):
            return _refuse(svc, msg, command, "project_not_yours", own=own.name if own else None)
    if project is None:
        return [Send(msg.chat_id, svc.render("no_project.j2"))]
    return Scope(project, period)
