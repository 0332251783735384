"""A demo office for `reportbot console --demo`: one project, two canvassers, an assistant, a manager."""

from __future__ import annotations

from datetime import datetime

from reportbot.handlers import directory
from reportbot.handlers.directory import NewStaff
from reportbot.storage.db import Database

DEMO_PROJECT = "森林半岛"
DEMO_GROUP = "-1001234"
DEMO_STAFF = (
    NewStaff("李四", "飞虎队", "canvasser", "101", project=DEMO_PROJECT),
    NewStaff("赵敏", "案场", "assistant", "102", project=DEMO_PROJECT),
    NewStaff("王五", "猛虎队", "canvasser", "103", project=DEMO_PROJECT),
    NewStaff("陈经理", "案场", "manager", "104", project=DEMO_PROJECT),
)


async def seed_demo(db: Database, now: datetime) -> bool:
    """Register the demo office unless any project exists; True when it did."""
    if await directory.list_projects(db):
        return False
    await directory.add_project(db, DEMO_PROJECT, DEMO_GROUP, None, now)
    for entry in DEMO_STAFF:
        await directory.add_staff(db, entry, now)
    return True
