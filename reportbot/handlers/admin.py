"""Admin use cases in chat: /projects lists the projects; /move moves a person to another team, keeping
the history (reports filed before the move stay with the team they were filed for)."""

from __future__ import annotations

from reportbot.handlers.context import Services
from reportbot.handlers.identity import private_chat_of
from reportbot.handlers.messages import Action, Incoming, Send
from reportbot.handlers.people import named_staff
from reportbot.rules.model import Project, Staff
from reportbot.rules.teams import TEAM_MAX


async def handle_projects(
    msg: Incoming, sender: Staff, project: Project | None, args: str, svc: Services
) -> list[Action]:
    async with svc.db.uow(write=False) as uow:
        projects = await uow.projects.all()
        staff = [person for person, _ in await uow.staff.all()]
    members = {p.id: sum(1 for s in staff if s.default_project_id == p.id) for p in projects}
    return [Send(msg.chat_id, svc.render("projects.j2", projects=projects, members=members, here=project))]


def _usage(svc: Services, msg: Incoming, problem: str | None = None) -> list[Action]:
    return [Send(msg.chat_id, svc.render("usage.j2", command="move", problem=problem))]


async def handle_move(msg: Incoming, sender: Staff, project: Project | None, args: str, svc: Services) -> list[Action]:
    """'/move 李四 猛虎队' or, when two people share the name, '/move 李四 飞虎队 猛虎队'."""
    words = args.split()
    if len(words) not in (2, 3):
        return _usage(svc, msg)
    name, to_team = words[0], words[-1]
    from_team = words[1] if len(words) == 3 else None
    if len(to_team) > TEAM_MAX:
        return _usage(svc, msg, svc.render("move_problem.j2", problem="team_too_long", limit=TEAM_MAX))
    async with svc.db.uow() as uow:
        found = await named_staff(uow, name, from_team)
        if len(found) != 1:
            problem = "unknown" if not found else "ambiguous"
            return _usage(svc, msg, svc.render("move_problem.j2", problem=problem, name=name, team=from_team))
        person = found[0]
        if person.team == to_team:
            return [Send(msg.chat_id, svc.render("moved.j2", person=person, to_team=to_team, moved=False))]
        moved = await uow.team_changes.move(person.id, person.team, to_team, msg.now, sender.id)
        await uow.commit()
        chat = await private_chat_of(uow, person.id, msg.channel)
    text = svc.render("moved.j2", person=person, to_team=to_team, moved=moved, at=msg.now)
    actions: list[Action] = [Send(msg.chat_id, text)]
    if moved and chat and chat != msg.chat_id:
        actions.append(Send(chat, svc.render("moved_told.j2", person=person, to_team=to_team)))
    return actions
