"""Use cases of the staff and project directory (CLI today, admins in chat later)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from reportbot.rules.model import Project, Role, Staff
from reportbot.storage.db import Database
from reportbot.storage.uow import UnitOfWork

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
    if not identities:
        raise DirectoryError("give --id (Telegram user id) or --wecom (WeCom userid), or both")
    return role, identities


async def _add_staff(uow: UnitOfWork, entry: NewStaff, now: datetime) -> Staff:
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


async def add_project(db: Database, name: str, tg_chat_id: str | None, wecom_chat_id: str | None, now: datetime) -> Project:
    name = name.strip()
    if not 1 <= len(name) <= 60:
        raise DirectoryError(f"name {name!r}: 1–60 characters")
    if tg_chat_id is not None and not _GROUP_ID.match(tg_chat_id.strip()):
        raise DirectoryError(f"chat id {tg_chat_id!r}: a Telegram chat id is a number such as -1001234567890")
    async with db.uow() as uow:
        if await uow.projects.by_name(name):
            raise DirectoryError(f"project {name!r} exists already")
        if tg_chat_id and await uow.projects.by_chat("telegram", tg_chat_id.strip()):
            raise DirectoryError(f"chat {tg_chat_id} already belongs to another project")
        project = await uow.projects.add(name, tg_chat_id and tg_chat_id.strip(), wecom_chat_id, now)
        await uow.commit()
    return project


async def list_staff(db: Database) -> list[tuple[Staff, dict[str, str]]]:
    async with db.uow(write=False) as uow:
        return await uow.staff.all()


async def list_projects(db: Database) -> list[Project]:
    async with db.uow(write=False) as uow:
        return await uow.projects.all()
