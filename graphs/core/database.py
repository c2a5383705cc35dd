"""Connections to the one SQL store: embedded PostgreSQL by default, ``DATABASE_URL`` otherwise.

Usage::

    db = await Database.connect()          # starts/migrates the embedded server if needed
    async with db.connection() as conn:
        await conn.execute("SELECT 1")
    await db.close()
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg_pool import AsyncConnectionPool

from graphs.core import migrate
from graphs.core.embedded import EmbeddedPostgres
from graphs.core.settings import Settings, get_settings


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached or prepared (server down, bad URL, migration failed)."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the data lives.

    Attributes:
        url: libpq connection URI (contains the password for external servers: never print it).
        embedded: True for the embedded server.
        display: A safe, password-free description for people.
    """

    url: str
    embedded: bool
    display: str


def redact_url(url: str) -> str:
    """Return ``url`` with any password removed, for logs and status output."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    socket_host = parse_qs(parts.query).get("host", [""])[0]
    where = f"{host}:{parts.port}" if parts.port else host
    if not where and socket_host:
        where = f"socket {socket_host}"
    user = parts.username or ""
    return f"{parts.scheme}://{user + '@' if user else ''}{where}{parts.path}"


def embedded_server(settings: Settings) -> EmbeddedPostgres:
    """The embedded server object for ``settings.pgdata_dir`` (not started)."""
    return EmbeddedPostgres(
        settings.pgdata_dir,
        keep_running=settings.embedded_keep_running,
        shared_buffers=settings.embedded_shared_buffers,
    )


def resolve_target(settings: Settings | None = None) -> DatabaseTarget:
    """Decide which database to use, starting the embedded server when needed.

    Args:
        settings: Settings to use; the process-wide ones by default.

    Raises:
        DatabaseUnavailableError: the embedded server could not start.
    """
    settings = settings or get_settings()
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        return DatabaseTarget(url=url, embedded=False, display=redact_url(url))
    try:
        url = embedded_server(settings).ensure_database(settings.embedded_database)
    except Exception as exc:
        raise DatabaseUnavailableError(str(exc)) from exc
    return DatabaseTarget(
        url=url, embedded=True, display=f"embedded PostgreSQL in {settings.pgdata_dir}"
    )


def ensure_schema(url: str) -> None:
    """Apply pending migrations to the database at ``url`` (no-op when current).

    Raises:
        DatabaseUnavailableError: the database is unreachable or a migration failed.
    """
    try:
        if not migrate.is_current(url):
            migrate.upgrade(url)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(f"cannot reach {redact_url(url)}: {exc}") from exc


class Database:
    """An async connection pool on the application database.

    Connections are in autocommit mode; use ``async with conn.transaction():`` for multi-statement
    units of work.

    Every new connection gets the pgvector type adapters (binary vectors) and the session's
    HNSW search settings: ``hnsw.ef_search`` (candidate list size; pgvector's default is 40)
    and ``hnsw.iterative_scan = relaxed_order`` so filtered searches keep scanning until they
    find enough matching rows (pgvector >= 0.8; callers re-sort the final top-k).

    Args:
        url: libpq connection URI.
        min_size: Connections opened eagerly.
        max_size: Upper bound on pooled connections.
        hnsw_ef_search: Session value of ``hnsw.ef_search``.
    """

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, hnsw_ef_search: int = 64
    ) -> None:
        self.url = url
        self.hnsw_ef_search = hnsw_ef_search
        self.pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name="grace",
        )

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        from pgvector.psycopg import register_vector_async

        try:
            await register_vector_async(conn)
        except psycopg.ProgrammingError:  # extension not created yet (pre-0002 schema)
            return
        await conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, false),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', false)",
            (str(self.hnsw_ef_search),),
        )

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, url: str | None = None) -> Database:
        """Resolve the target, migrate if configured, and open a pool.

        Args:
            settings: Settings to use; the process-wide ones by default.
            url: Connect to this URI instead of the configured target.

        Raises:
            DatabaseUnavailableError: the server is down, unreachable or could not be migrated.
        """
        settings = settings or get_settings()
        if url is None:
            url = (await asyncio.to_thread(resolve_target, settings)).url
        if settings.auto_migrate:
            await asyncio.to_thread(ensure_schema, url)
        db = cls(
            url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            hnsw_ef_search=settings.hnsw_ef_search,
        )
        try:
            await db.pool.open(wait=True, timeout=15)
        except Exception as exc:
            raise DatabaseUnavailableError(f"cannot open pool on {redact_url(url)}: {exc}") from exc
        return db

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Borrow a pooled connection (autocommit) for the duration of the block."""
        async with self.pool.connection() as conn:
            yield conn

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.pool.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
