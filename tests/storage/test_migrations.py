"""The alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

# Imported for what they do: register every table on SQLModel.metadata.
import reportbot.storage.tables
import reportbot.storage.transport_tables  # noqa: F401
from reportbot.storage.db import Database


async def test_the_migrated_schema_matches_the_models(db: Database) -> None:
    async with db.write_engine.connect() as conn:
        diff = await conn.run_sync(lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata))
    assert diff == []


def test_the_head_known_without_alembic_is_alembics_head(db_url: str) -> None:
    from alembic.script import ScriptDirectory

    from reportbot.storage.migrate import HEAD, alembic_config, stored_revision

    assert ScriptDirectory.from_config(alembic_config(db_url)).get_current_head() == HEAD
    assert stored_revision(db_url) == HEAD  # read from the database itself, on either kind


def test_a_database_behind_is_still_upgraded_and_a_new_one_created(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from reportbot.storage.migrate import HEAD, alembic_config, stored_revision, upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'ledger.db'}"
    assert stored_revision(url) is None
    upgrade(url)
    assert stored_revision(url) == HEAD
    command.downgrade(alembic_config(url), "0006")
    assert stored_revision(url) == "0006"
    upgrade(url)
    assert stored_revision(url) == HEAD


def test_starting_the_polling_bot_imports_neither_alembic_at_head_nor_the_webhook_server(sqlite_url: str) -> None:
    """Cold start: alembic (with mako and pygments) and aiohttp (the webhook's) were a third of it. aiohttp's
    client is the Bot API's now (bot/bot_api_http.py); its server, aiohttp.web, is still the webhook's alone."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from reportbot.bot import cli, telegram\n"
        "from reportbot.storage.migrate import upgrade\n"
        f"upgrade({sqlite_url!r})\n"
        "print(sorted(m for m in ('alembic', 'mako', 'pygments', 'aiohttp.web') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
