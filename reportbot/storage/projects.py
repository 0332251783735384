"""Projects (楼盘 / 案场): a sales office and its group chat on each channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from reportbot.rules.model import Project
from reportbot.storage.base import Repository
from reportbot.storage.tables import ProjectRow


def _project(row: ProjectRow) -> Project:
    assert row.id is not None
    return Project(row.id, row.name, row.tg_chat_id, row.wecom_chat_id, row.dingtalk_chat_id, row.feishu_chat_id)


_PROJECT = "SELECT id, name, tg_chat_id, wecom_chat_id, dingtalk_chat_id, feishu_chat_id FROM project"
_PROJECT_BY_CHAT = {
    "telegram": f"{_PROJECT} WHERE tg_chat_id = $1",
    "wecom": f"{_PROJECT} WHERE wecom_chat_id = $1",
    "dingtalk": f"{_PROJECT} WHERE dingtalk_chat_id = $1",
    "feishu": f"{_PROJECT} WHERE feishu_chat_id = $1",
}


class ProjectRepository(Repository):
    async def add(self, name: str, tg_chat_id: str | None, wecom_chat_id: str | None, now: datetime, *,
                  dingtalk_chat_id: str | None = None, feishu_chat_id: str | None = None) -> Project:
        row = ProjectRow(name=name, tg_chat_id=tg_chat_id, wecom_chat_id=wecom_chat_id,
                         dingtalk_chat_id=dingtalk_chat_id, feishu_chat_id=feishu_chat_id, created_at=now)
        self.session.add(row)
        await self.session.flush()
        return _project(row)

    async def get(self, project_id: int) -> Project | None:
        row = await (await self.sql()).row(f"{_PROJECT} WHERE id = $1", project_id)
        return Project(*row) if row else None

    async def by_name(self, name: str) -> Project | None:
        stmt = select(ProjectRow).where(col(ProjectRow.name) == name)
        row = (await self.session.execute(stmt)).scalar_one_or_none()
        return _project(row) if row else None

    async def by_chat(self, channel: str, chat_id: str) -> Project | None:
        """The project whose group chat this is, on that channel (the console knows both kinds)."""
        statements = [_PROJECT_BY_CHAT[channel]] if channel in _PROJECT_BY_CHAT else [*_PROJECT_BY_CHAT.values()]
        sql = await self.sql()
        for stmt in statements:
            row = await sql.row(stmt, chat_id)
            if row:
                return Project(*row)
        return None

    async def all(self) -> list[Project]:
        return [Project(*row) for row in await (await self.sql()).rows(f"{_PROJECT} ORDER BY id")]
