"""Migrations 0004 (API security), 0005 (thread inbox) and 0006 (chat idempotency) downgrade
and upgrade cleanly."""

from __future__ import annotations

import psycopg
import pytest
from alembic import command

from graphs.core import migrate

pytestmark = pytest.mark.integration

TABLES = ("api_keys", "api_thread_owners", "webhook_deliveries", "thread_inbox", "chat_idempotency")


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename = ANY(%s)", (list(TABLES),)
        ).fetchall()
    return {r[0] for r in rows}


def test_0004_and_0005_down_and_up(database_url: str) -> None:
    assert _tables(database_url) == set(TABLES)
    command.downgrade(migrate.alembic_config(database_url), "0003")
    assert migrate.current_revision(database_url) == "0003" and _tables(database_url) == set()
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.SCHEMA_HEAD
    assert _tables(database_url) == set(TABLES)
