"""One embedded PostgreSQL + pgvector server per test session; a fresh database per test.

Each test database is cloned from a migrated template (``CREATE DATABASE … TEMPLATE``), which
takes milliseconds, so tests never share rows and never start a server of their own.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from graphs.core import migrate
from graphs.core.database import Database
from graphs.core.embedded import EmbeddedPostgres, database_uri

TEMPLATE = "grace_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Admin URI of the session's embedded server (short /tmp path: socket length limit)."""
    root = Path(tempfile.mkdtemp(prefix="gft-", dir="/tmp"))
    server = EmbeddedPostgres(root / "pg")
    admin = server.start()
    yield admin
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def template_url(pg_server: str) -> str:
    """URI of the migrated template database."""
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    url = database_uri(pg_server, TEMPLATE)
    migrate.upgrade(url)
    return url


@pytest.fixture
def database_url(pg_server: str, template_url: str) -> Iterator[str]:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(TEMPLATE)
            )
        )
    yield database_uri(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An open connection pool on the test's database."""
    database = Database(database_url, min_size=1, max_size=10)
    await database.pool.open(wait=True)
    yield database
    await database.close()


@pytest.fixture(scope="session")
def local_embedder() -> Any:
    """The real all-MiniLM-L6-v2, loaded once per test session (~7 s)."""
    from knowledge.embedding.local import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.warmup()
    return embedder
