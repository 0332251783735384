"""Finding the staff member a command names ('带客：李四', '接手：王五 队名：猛虎队')."""

from __future__ import annotations

from reportbot.handlers.context import Unit
from reportbot.rules.model import Staff


async def named_staff(uow: Unit, name: str, team: str | None) -> list[Staff]:
    """Everyone registered under this name (in this team, when one is given)."""
    return await uow.staff.by_name(name.strip(), team.strip() if team else None)
