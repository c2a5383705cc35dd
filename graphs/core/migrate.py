"""Schema migrations, run by alembic from ``graphs/core/migrations``.

``grace db upgrade`` calls :func:`upgrade`; :class:`~graphs.core.database.Database` calls it
automatically on first connection when ``auto_migrate`` is on. Concurrent upgrades from several
processes are serialised by a PostgreSQL advisory lock taken in ``migrations/env.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: The newest revision under ``migrations/versions``. Kept here so that checking whether a
#: database is current needs no alembic import (~0.5 s); a unit test asserts it equals alembic's
#: head, so adding a migration without bumping it fails the suite.
SCHEMA_HEAD = "0006"

#: Key of the advisory lock that serialises concurrent migration runs.
MIGRATION_LOCK_KEY = 0x6772_6163_6500  # "grace" in hex, shifted


def sqlalchemy_url(url: str) -> str:
    """Turn a libpq URI into a SQLAlchemy URL that uses the psycopg 3 driver.

    Args:
        url: ``postgresql://…`` or ``postgres://…`` URI (Unix socket ``?host=`` allowed).
    """
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]!r}")


def alembic_config(url: str) -> Config:
    """Build an alembic :class:`Config` for the database at ``url`` (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = sqlalchemy_url(url)
    return cfg


def head_revision() -> str:
    """Return the newest migration revision shipped with this version of Grace Fields."""
    return SCHEMA_HEAD


def alembic_head() -> str:
    """Ask alembic for the head of ``migrations/versions`` (slow import; for tests and tools)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:  # pragma: no cover - we always ship migrations
        raise RuntimeError("no migrations found")
    return head


def current_revision(url: str) -> str | None:
    """Return the revision the database at ``url`` is on, or None when never migrated."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('public.alembic_version')").fetchone()
        if not exists or exists[0] is None:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None


def upgrade(url: str, revision: str = "head") -> str:
    """Apply migrations up to ``revision`` and return the revision reached.

    Args:
        url: libpq URI of the target database.
        revision: Target revision id, or ``head``.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: a migration failed (it is rolled back: each runs in a
            transaction).
    """
    from alembic import command

    command.upgrade(alembic_config(url), revision)
    return current_revision(url) or ""


def is_current(url: str) -> bool:
    """True when the database at ``url`` is at the shipped head revision."""
    return current_revision(url) == head_revision()
