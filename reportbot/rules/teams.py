"""Moving a canvasser between teams (队伍调整) keeps history: who was in which team when. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

TEAM_MAX = 20


@dataclass(frozen=True)
class TeamChange:
    staff_id: int
    from_team: str
    to_team: str
    at: datetime


def team_at(current: str, changes: Iterable[TeamChange], at: datetime) -> str:
    """The team a person was in at ``at``: the team they left at their first move after it, else today's."""
    later = sorted((c for c in changes if c.at > at), key=lambda c: c.at)
    return later[0].from_team if later else current

