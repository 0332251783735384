"""The same PostgreSQL database over the server's Unix socket, as a bot on the database's machine connects.

Used by tests/storage/test_socket.py and by bench/storage_bench.py (which measures both ways).
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url


async def unix_socket_url(url: str) -> str | None:
    """``url`` (postgresql+asyncpg over TCP) rewritten to reach the same database through the server's Unix
    socket, ``…@/db?host=/var/run/postgresql&port=5432``; None when no socket of that server is on this machine."""
    parsed = make_url(url)
    conn = await asyncpg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False), timeout=10)
    try:
        directories, port = await conn.fetchval("SHOW unix_socket_directories"), await conn.fetchval("SHOW port")
    finally:
        await conn.close()
    for directory in (d.strip() for d in str(directories).split(",")):
        if directory and not directory.startswith("@") and Path(directory, f".s.PGSQL.{port}").exists():
            bare = URL.create(parsed.drivername, parsed.username, parsed.password, database=parsed.database)
            return f"{bare.render_as_string(hide_password=False)}?host={directory}&port={port}"
    return None
