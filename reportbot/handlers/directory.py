"""Use cases of the staff and project directory (CLI today, admins in chat later)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from reportbot.handlers.context import Unit
from reportbot.rules.model import Project, Role, Staff
from reportbot.storage.db import Database

ROLE_NAMES = {
    "canvasser": Role.CANVASSER,
    "拓客": Role.CANVASSER,
    "行销": Role.CANVASSER,
    "assistant": Role.ASSISTANT,
    "销售助理": Role.ASSISTANT,
    "助理": Role.ASSISTANT,
    "manager": Role.MANAGER,
    "经理": Role.MANAGER,
    "admin": Role.ADMIN,
    "管理员": Role.ADMIN,
}
_TELEGRAM_ID = re.compile(r"^[1-9][0-9]{0,15}$")
_WECOM_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# A DingTalk userid (staffId) and a Feishu open_id (ou_…); a DingTalk openConversationId (cid…, base64: + / =)
# and a Feishu chat_id (oc_…).
_DINGTALK_ID = re.compile(r"^[A-Za-z0-9_.@$+=/-]{1,64}$")
_FEISHU_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CHAT_IDS = {
    "wecom": (re.compile(r"^[A-Za-z0-9_.@-]{1,128}$"), "a WeCom chatid: letters, digits, _ . @ - only"),
    "dingtalk": (re.compile(r"^cid[A-Za-z0-9_.+=/-]{1,125}$"), "a DingTalk openConversationId such as cidAbC123+/=="),
    "feishu": (re.compile(r"^oc_[A-Za-z0-9_-]{1,125}$"), "a Feishu chat_id such as oc_a0553eda9014c201e6969b478895c230"),
}
_OTHER_IDS = {
    "dingtalk": (_DINGTALK_ID, "a DingTalk userid: letters, digits, _ . @ $ + = / - only"),
    "feishu": (_FEISHU_ID, "a Feishu open_id such as ou_7d8a6e6df7621556ce0d21922b676706"),
}
_GROUP_ID = re.compile(r"^-?[1-9][0-9]{0,19}$")


class DirectoryError(ValueError):
    """A staff or project entry that cannot be added; the message says which field and why."""


@dataclass(frozen=True)
class NewStaff:
    name: str
    team: str
    role: str
    telegram_id: str | None = None
    wecom_id: str | None = None
    project: str | None = None
    dingtalk_id: str | None = None
    feishu_id: str | None = None


def _check_staff(entry: NewStaff) -> tuple[Role, dict[str, str]]:
    name, team = entry.name.strip(), entry.team.strip()
    if not 1 <= len(name) <= 20 or any(ch.isdigit() for ch in name):
        raise DirectoryError(f"name {entry.name!r}: 1–20 characters, no digits")
    if not 1 <= len(team) <= 20:
        raise DirectoryError(f"team {entry.team!r}: 1–20 characters")
    role = ROLE_NAMES.get(entry.role.strip().lower())
    if role is None:
        raise DirectoryError(f"role {entry.role!r}: one of canvasser, assistant, manager, admin")
    identities: dict[str, str] = {}
    if entry.telegram_id:
        if not _TELEGRAM_ID.match(entry.telegram_id.strip()):
            raise DirectoryError(f"id {entry.telegram_id!r}: a Telegram user id is a positive number")
        identities["telegram"] = entry.telegram_id.strip()
    if entry.wecom_id:
        if not _WECOM_ID.match(entry.wecom_id.strip()):
            raise DirectoryError(f"wecom {entry.wecom_id!r}: letters, digits, _ . @ - only")
        identities["wecom"] = entry.wecom_id.strip()
    for channel, given in (("dingtalk", entry.dingtalk_id), ("feishu", entry.feishu_id)):
        if given:
            pattern, what = _OTHER_IDS[channel]
            if not pattern.match(given.strip()):
                raise DirectoryError(f"{channel} {given!r}: {what}")
            identities[channel] = given.strip()
    if not identities:
        raise DirectoryError("give at least one of --id (Telegram user id), --wecom (WeCom userid), "
                             "--dingtalk (DingTalk userid), --feishu (Feishu open_id)")
    return role, identities


async def _add_staff(uow: Unit, entry: NewStaff, now: datetime) -> Staff:
    role, identities = _check_staff(entry)
    project_id = None
    if entry.project:
        project = await uow.projects.by_name(entry.project.strip())
        if project is None:
            raise DirectoryError(f"project {entry.project!r} does not exist (reportbot project add)")
        project_id = project.id
    for channel, external_id in identities.items():
        if await uow.staff.identity_taken(channel, external_id):
            raise DirectoryError(f"{channel} id {external_id} is already registered")
    return await uow.staff.add(entry.name.strip(), entry.team.strip(), role, project_id, identities, now)


async def add_staff(db: Database, entry: NewStaff, now: datetime) -> Staff:
    async with db.uow() as uow:
        staff = await _add_staff(uow, entry, now)
        await uow.commit()
    return staff


async def import_staff(db: Database, entries: list[tuple[int, NewStaff]], now: datetime) -> list[Staff]:
    """All rows or none: every bad row is reported (by line number) and nothing is added."""
    problems: list[str] = []
    added: list[Staff] = []
    async with db.uow() as uow:
        for line, entry in entries:
            try:
                added.append(await _add_staff(uow, entry, now))
            except DirectoryError as exc:
                problems.append(f"line {line}: {exc}")
        if problems:
            raise DirectoryError("\n".join(problems))
        await uow.commit()
    return added


async def add_project(
    db: Database, name: str, tg_chat_id: str | None, wecom_chat_id: str | None, now: datetime, *,
    dingtalk_chat_id: str | None = None, feishu_chat_id: str | None = None,
) -> Project:
    name = name.strip()
    if not 1 <= len(name) <= 60:
        raise DirectoryError(f"name {name!r}: 1–60 characters")
    if tg_chat_id is not None and not _GROUP_ID.match(tg_chat_id.strip()):
        raise DirectoryError(f"chat id {tg_chat_id!r}: a Telegram chat id is a number such as -1001234567890")
    given = {"telegram": tg_chat_id, "wecom": wecom_chat_id, "dingtalk": dingtalk_chat_id, "feishu": feishu_chat_id}
    chats = {channel: chat.strip() for channel, chat in given.items() if chat and chat.strip()}
    for channel, chat in chats.items():
        if channel in _CHAT_IDS and not _CHAT_IDS[channel][0].match(chat):
            raise DirectoryError(f"{channel} chat {chat!r}: {_CHAT_IDS[channel][1]}")
    async with db.uow() as uow:
        if await uow.projects.by_name(name):
            raise DirectoryError(f"project {name!r} exists already")
        for channel, chat in chats.items():
            if await uow.projects.by_chat(channel, chat):
                raise DirectoryError(f"{channel} chat {chat} already belongs to another project")
        project = await uow.projects.add(name, chats.get("telegram"), chats.get("wecom"), now,
                                         dingtalk_chat_id=chats.get("dingtalk"), feishu_chat_id=chats.get("feishu"))
        await uow.commit()
    return project


async def list_staff(db: Database) -> list[tuple[Staff, dict[str, str]]]:
    async with db.uow(write=False) as uow:
        return await uow.staff.all()


async def list_projects(db: Database) -> list[Project]:
    async with db.uow(write=False) as uow:
        return await uow.projects.all()
