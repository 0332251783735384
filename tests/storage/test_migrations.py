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


def test_storage_imports_nothing_of_the_bot_the_handlers_or_a_messenger_sdk() -> None:
    """Not even the migrations, lazily: the caller hands them the database URL (STYLE.md, principle 3)."""
    import ast
    from pathlib import Path

    import reportbot.storage

    refused = ("reportbot.bot", "reportbot.handlers", "telegram", "aibot", "dingtalk_stream", "lark_oapi")
    found = []
    for path in Path(reportbot.storage.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names if n.startswith(refused)]
    assert found == []


def test_alembic_on_the_command_line_migrates_the_database_it_is_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The developers' way (alembic.ini at the root): the URL from -x url=…, else DATABASE_URL, else a refusal."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from reportbot.storage.migrate import HEAD, stored_revision

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}

    def alembic(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=root, env={**env, **extra},
                              check=False, capture_output=True, text=True, timeout=60)

    refused = alembic("upgrade", "head")
    assert refused.returncode != 0 and "no database URL" in refused.stdout + refused.stderr
    given = f"sqlite+aiosqlite:///{tmp_path / 'given.db'}"
    assert alembic("-x", f"url={given}", "upgrade", "head").returncode == 0
    assert stored_revision(given) == HEAD
    from_env = f"sqlite+aiosqlite:///{tmp_path / 'from_env.db'}"
    assert alembic("upgrade", "head", DATABASE_URL=from_env).returncode == 0
    assert stored_revision(from_env) == HEAD
