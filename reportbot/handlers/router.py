"""From a neutral message to the use case that answers it: who is asking, where, and may they."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from reportbot.handlers.admin import handle_move, handle_projects
from reportbot.handlers.context import Services
from reportbot.handlers.deal import handle_deal
from reportbot.handlers.export import handle_export
from reportbot.handlers.followup import handle_follow, handle_rereport
from reportbot.handlers.forget import handle_forget
from reportbot.handlers.identity import CHANNEL_LABELS, find_sender, find_sender_at_home
from reportbot.handlers.messages import Action, Delete, Incoming, Send
from reportbot.handlers.mine import handle_mine
from reportbot.handlers.report import handle_report
from reportbot.handlers.stats import handle_stats
from reportbot.handlers.visit import handle_claim, handle_release, handle_revoke, handle_visit
from reportbot.handlers.web_access import handle_qr, handle_web
from reportbot.handlers.who import handle_who
from reportbot.rules import privacy
from reportbot.rules.model import Project, Role, Staff
from reportbot.rules.report_parse import is_report, named_project
from reportbot.rules.text import clean_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """A message from a registered person, with the project it belongs to (None: none found)."""

    msg: Incoming
    sender: Staff
    project: Project | None
    args: str


Handler = Callable[[Request, Services], Awaitable[list[Action]]]


@dataclass(frozen=True)
class Command:
    name: str
    description: str  # shown in /help and in Telegram's command menu
    min_role: Role
    run: Handler
    needs_project: bool = False


async def _report(req: Request, svc: Services) -> list[Action]:
    assert req.project is not None
    return await handle_report(req.msg, req.sender, req.project, svc)


async def _mine(req: Request, svc: Services) -> list[Action]:
    return await handle_mine(req.msg, req.sender, svc)


async def _who(req: Request, svc: Services) -> list[Action]:
    assert req.project is not None
    return await handle_who(req.msg, req.args, [req.project], svc)


def _project_command(run: Callable[[Incoming, Staff, Project, str, Services], Awaitable[list[Action]]]) -> Handler:
    async def handler(req: Request, svc: Services) -> list[Action]:
        assert req.project is not None
        return await run(req.msg, req.sender, req.project, req.args, svc)

    return handler


def _scoped_command(
    run: Callable[[Incoming, Staff, Project | None, str, Services], Awaitable[list[Action]]],
) -> Handler:
    """A command that may name its project itself; the chat's (or the sender's) project is the default."""

    async def handler(req: Request, svc: Services) -> list[Action]:
        return await run(req.msg, req.sender, req.project, req.args, svc)

    return handler


async def _web(req: Request, svc: Services) -> list[Action]:
    return await handle_web(req.msg, req.sender, svc)


async def _help(req: Request, svc: Services) -> list[Action]:
    allowed = [c for c in COMMANDS if req.sender.role.at_least(c.min_role)]
    return [Send(req.msg.chat_id, svc.render("help.j2", me=req.sender, commands=allowed, policy=svc.policy))]


COMMANDS: tuple[Command, ...] = (
    Command("report", "报备客户（或直接发“报备 …”）", Role.CANVASSER, _report, needs_project=True),
    Command("mine", "我的有效报备和剩余时间", Role.CANVASSER, _mine),
    Command("who", "查客户归属：/who 电话|回执号|客户姓名", Role.ASSISTANT, _who, needs_project=True),
    Command("follow", "记录跟进：/follow 回执号或电话 内容", Role.CANVASSER, _project_command(handle_follow), needs_project=True),
    Command("rereport", "失效后重新报备：/rereport 回执号 原因 新时间", Role.CANVASSER, _project_command(handle_rereport),
            needs_project=True),
    Command("visit", "到访登记判客：/visit 电话 [带客：姓名] [同行：人数]", Role.ASSISTANT, _project_command(handle_visit),
            needs_project=True),
    Command("claim", "到访后凭证据改判：/claim 电话 拓客：… 证据：… 时间：…", Role.MANAGER, _project_command(handle_claim),
            needs_project=True),
    Command("revoke", "撤销归属：/revoke 电话 原因：… [接手：…]", Role.MANAGER, _project_command(handle_revoke),
            needs_project=True),
    Command("release", "解除公号：/release 电话", Role.MANAGER, _project_command(handle_release), needs_project=True),
    Command("deal", "登记成交：/deal 回执号或电话 [备注]", Role.ASSISTANT, _project_command(handle_deal), needs_project=True),
    Command("stats", "统计图表：/stats [today|week|month|起..止] [项目]", Role.ASSISTANT, _scoped_command(handle_stats)),
    Command("export", "导出Excel台账：/export [today|week|month|起..止] [项目]", Role.MANAGER,
            _scoped_command(handle_export)),
    Command("projects", "列出所有项目", Role.ADMIN, _scoped_command(handle_projects)),
    Command("move", "调整队伍：/move 姓名 [原队名] 新队名", Role.ADMIN, _scoped_command(handle_move)),
    Command("forget", "应客户要求删除姓名和电话：/forget 电话|回执号 [确认]", Role.MANAGER,
            _project_command(handle_forget), needs_project=True),
    Command("web", "网页版登录链接（判客台、台账、统计、我的报备）", Role.CANVASSER, _web),
    Command("qr", "带看二维码：/qr 回执号", Role.CANVASSER, _project_command(handle_qr), needs_project=True),
    Command("help", "报备模板和可用命令", Role.CANVASSER, _help),
    Command("start", "开始使用：报备模板", Role.CANVASSER, _help),
)
BY_NAME = {c.name: c for c in COMMANDS}
REPORT = BY_NAME["report"]


_COMMAND = re.compile(r"^/(?P<name>[A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?=\s|$)\s*(?P<args>.*)$", re.DOTALL)


def split_command(text: str) -> tuple[str, str] | None:
    """'/who@ReportBot 138***88888' → ('who', '138***88888'); None when not a command."""
    if not text.startswith("/"):
        return None
    match = _COMMAND.match(text)
    if match is None:
        return text[1:].split(maxsplit=1)[0][:32] if text[1:].strip() else "", ""
    return match["name"].lower(), match["args"].strip()


async def handle_message(msg: Incoming, svc: Services) -> list[Action]:
    """Answer one message; chatter in a group that is neither a command nor a report is ignored."""
    log.debug("message in", extra={"channel": msg.channel, "chat": msg.chat_id, "sender": msg.sender_id,
                                   "text": msg.text})
    msg = replace(msg, text=clean_text(msg.text))
    text = msg.text.strip()
    command = split_command(text)
    if command is None and is_report(text, private=not msg.is_group):
        command = (REPORT.name, text)
    if command is None and msg.is_group:
        return []
    async with svc.db.uow(write=False, orm=False) as uow:
        if msg.is_group:
            sender = await find_sender(uow, msg.channel, msg.sender_id)
            project = await uow.projects.by_chat(msg.channel, msg.chat_id)
        else:
            sender, project = await find_sender_at_home(uow, msg.channel, msg.sender_id)
    if msg.is_group and project is None:
        return [Send(msg.chat_id, svc.render("not_project_group.j2", chat_id=msg.chat_id, channel=msg.channel))]
    removed = _remove_full_number(msg, svc)
    if sender is None:
        channel = CHANNEL_LABELS.get(msg.channel, msg.channel)
        return removed + [Send(msg.chat_id, svc.render("unregistered.j2", user_id=msg.sender_id, channel=channel))]
    if command is None:
        return [Send(msg.chat_id, svc.render("not_understood.j2"))]
    name, args = command
    return removed + await _run_command(msg, svc, sender, project, name, args, text)


async def _named_project(svc: Services, text: str) -> Project | None:
    """The project a private report names (项目：森林半岛), when there is one of that name."""
    name = named_project(text)
    if name is None:
        return None
    async with svc.db.uow(write=False) as uow:
        return next((p for p in await uow.projects.all() if p.name == name), None)


def _remove_full_number(msg: Incoming, svc: Services) -> list[Action]:
    """A group message that shows a whole phone number is deleted (where the bot may), saying why."""
    if not (msg.is_group and msg.message_id and privacy.contains_full_number(msg.text)):
        return []
    return [Delete(msg.chat_id, msg.message_id), Send(msg.chat_id, svc.render("full_number_removed.j2"))]


async def _run_command(
    msg: Incoming, svc: Services, sender: Staff, project: Project | None, name: str, args: str, text: str
) -> list[Action]:
    spec = BY_NAME.get(name)
    if spec is None:
        return [Send(msg.chat_id, svc.render("unknown_command.j2", command=name))]
    if not sender.role.at_least(spec.min_role):
        return [Send(msg.chat_id, svc.render("not_allowed.j2", command=spec, me=sender))]
    if spec is REPORT and not msg.is_group:
        project = await _named_project(svc, text) or project  # 项目：… picks among several
    if spec.needs_project and project is None:
        return [Send(msg.chat_id, svc.render("no_project.j2"))]
    text_for_report = text if spec is REPORT else args
    return await spec.run(Request(msg, sender, project, text_for_report), svc)
