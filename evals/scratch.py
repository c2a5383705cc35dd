"""Scratch databases for eval runs and benchmarks on the embedded server.

On the embedded server a run gets a database of its own, dropped and created afresh, so it
neither sees nor leaves anything in the application database. With ``DATABASE_URL`` set, the
configured database is used as it is (the caller cleans up what it adds).
"""

from __future__ import annotations

import asyncio

from psycopg import sql

from graphs.core.database import resolve_target
from graphs.core.embedded import database_uri
from graphs.core.settings import Settings


async def recreate_database(settings: Settings, name: str) -> tuple[str, bool]:
    """Drop and create database ``name`` on the embedded server (not migrated).

    Returns:
        ``(url, True)`` for the fresh embedded database; ``(DATABASE_URL, False)`` when one is
        configured, untouched.

    Raises:
        graphs.core.database.DatabaseUnavailableError: the embedded server cannot start.
    """
    import psycopg

    target = await asyncio.to_thread(resolve_target, settings)
    if not target.embedded:
        return target.url, False
    admin = database_uri(target.url, "postgres")
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        ident = sql.Identifier(name)
        await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return database_uri(target.url, name), True


async def drop_database(url: str, name: str) -> None:
    """Drop database ``name`` on the server ``url`` points at (nothing if it is gone)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(
        database_uri(url, "postgres"), autocommit=True
    ) as conn:
        await conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
