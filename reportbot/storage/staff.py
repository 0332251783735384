"""Staff: who they are on each channel, their team and role, and their moves between teams."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from reportbot.rules.model import Project, Role, Staff
from reportbot.rules.teams import TeamChange
from reportbot.storage.base import Repository, rowcount
from reportbot.storage.tables import StaffIdentityRow, StaffRow, TeamChangeRow


def _staff(row: StaffRow) -> Staff:
    assert row.id is not None
    return Staff(row.id, row.name, row.team, Role(row.role), row.default_project_id)


# The sender and their default project in one statement: every private message asks for both.
_STAFF_BY_IDENTITY = (
    "SELECT s.id, s.name, s.team, s.role, s.default_project_id, p.id, p.name, p.tg_chat_id, p.wecom_chat_id,"
    " p.dingtalk_chat_id, p.feishu_chat_id"
    " FROM staff_identity AS i JOIN staff AS s ON s.id = i.staff_id"
    " LEFT JOIN project AS p ON p.id = s.default_project_id"
    " WHERE i.channel = $1 AND i.external_id = $2"
)


class StaffRepository(Repository):
    async def add(
        self,
        name: str,
        team: str,
        role: Role,
        default_project_id: int | None,
        identities: dict[str, str],
        now: datetime,
    ) -> Staff:
        row = StaffRow(name=name, team=team, role=role.value, default_project_id=default_project_id, created_at=now)
        self.session.add(row)
        await self.session.flush()
        assert row.id is not None
        for channel, external_id in identities.items():
            self.session.add(StaffIdentityRow(staff_id=row.id, channel=channel, external_id=external_id))
        await self.session.flush()
        return _staff(row)

    async def get(self, staff_id: int) -> Staff | None:
        row = await self.session.get(StaffRow, staff_id)
        return _staff(row) if row else None

    async def by_identity(self, channels: Sequence[str], external_id: str) -> Staff | None:
        """The staff member with this user id on the first of ``channels`` that knows it."""
        found = await self.by_identity_at_home(channels, external_id)
        return found[0] if found else None

    async def by_identity_at_home(
        self, channels: Sequence[str], external_id: str
    ) -> tuple[Staff, Project | None] | None:
        """As ``by_identity``, with the member's default project (None when they have none)."""
        sql = await self.sql()
        for channel in channels:
            row = await sql.row(_STAFF_BY_IDENTITY, channel, external_id)
            if row:
                staff_id, name, team, role, default_project_id, *project = row
                home = Project(*project) if project[0] is not None else None
                return Staff(staff_id, name, team, Role(role), default_project_id), home
        return None

    async def identity_taken(self, channel: str, external_id: str) -> bool:
        stmt = select(col(StaffIdentityRow.id)).where(
            col(StaffIdentityRow.channel) == channel, col(StaffIdentityRow.external_id) == external_id
        )
        return (await self.session.execute(stmt)).first() is not None

    async def by_name(self, name: str, team: str | None = None) -> list[Staff]:
        """Staff registered under this name, in this team when one is given."""
        stmt = select(StaffRow).where(col(StaffRow.name) == name)
        if team is not None:
            stmt = stmt.where(col(StaffRow.team) == team)
        return [_staff(r) for r in (await self.session.execute(stmt.order_by(col(StaffRow.id)))).scalars()]

    async def identities(self, staff_id: int) -> dict[str, str]:
        rows = await (await self.sql()).rows(
            "SELECT channel, external_id FROM staff_identity WHERE staff_id = $1", staff_id
        )
        return {channel: external_id for channel, external_id in rows}

    async def canvassers_of(self, project_id: int) -> list[Staff]:
        """The canvassers who may report for the project (at home there or in none), by team and name.

        One light query for the desk's and the ledger's lists, where ``all`` would load every identity too."""
        rows = await (await self.sql()).rows(
            "SELECT id, name, team, role, default_project_id FROM staff"
            " WHERE role = 'canvasser' AND (default_project_id IS NULL OR default_project_id = $1)",
            project_id,
        )
        found = [Staff(r[0], r[1], r[2], Role(r[3]), r[4]) for r in rows]
        return sorted(found, key=lambda s: (s.team, s.name, s.id))

    async def all(self) -> list[tuple[Staff, dict[str, str]]]:
        rows = list((await self.session.execute(select(StaffRow).order_by(col(StaffRow.id)))).scalars())
        ids = (await self.session.execute(select(StaffIdentityRow))).scalars()
        by_staff: dict[int, dict[str, str]] = {}
        for ident in ids:
            by_staff.setdefault(ident.staff_id, {})[ident.channel] = ident.external_id
        return [(_staff(r), by_staff.get(r.id or 0, {})) for r in rows]


async def team_changes(session: AsyncSession, staff_ids: set[int]) -> dict[int, list[TeamChange]]:
    """Team moves of these people (usually none: one cheap query)."""
    if not staff_ids:
        return {}
    stmt = (
        select(TeamChangeRow)
        .where(col(TeamChangeRow.staff_id).in_(sorted(staff_ids)))
        .order_by(col(TeamChangeRow.at), col(TeamChangeRow.id))
    )
    moves: dict[int, list[TeamChange]] = {}
    for row in (await session.execute(stmt)).scalars():
        moves.setdefault(row.staff_id, []).append(TeamChange(row.staff_id, row.from_team, row.to_team, row.at))
    return moves


class TeamChangeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def move(self, staff_id: int, from_team: str, to_team: str, at: datetime, by_id: int) -> bool:
        """Move a person to another team, recording the change; False if they were not in ``from_team``
        any more (somebody moved them a moment earlier)."""
        stmt = (
            update(StaffRow)
            .where(col(StaffRow.id) == staff_id, col(StaffRow.team) == from_team)
            .values(team=to_team)
        )
        if not rowcount(await self.session.execute(stmt)):
            return False
        self.session.add(TeamChangeRow(staff_id=staff_id, from_team=from_team, to_team=to_team, at=at, by_id=by_id))
        await self.session.flush()
        return True

    async def of_staff(self, staff_ids: Iterable[int]) -> dict[int, list[TeamChange]]:
        return await team_changes(self.session, set(staff_ids))
