"""Use case: `reportbot audit verify` — is every project's event chain intact (SPEC §9)?"""

from __future__ import annotations

from reportbot.rules.audit import first_break
from reportbot.rules.model import Project
from reportbot.storage.db import Database


async def verify_chain(db: Database) -> list[tuple[Project, int, str | None]]:
    """Per project: how many events were checked and the first break found (None: intact)."""
    results = []
    async with db.uow(write=False) as uow:
        for project in await uow.projects.all():
            links, head = await uow.events.chain(project.id)
            results.append((project, len(links), first_break(links, head)))
    return results
