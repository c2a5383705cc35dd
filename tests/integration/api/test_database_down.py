"""Postgres unreachable mid-flight: 503 problem+json with Retry-After, nothing half-written."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.problems import PROBLEM_MEDIA_TYPE
from graphs.workflows.engine import WorkflowEngine
from tests.integration.api.conftest import MakeClient, app_of

pytestmark = pytest.mark.integration


def _admin(url: str) -> Any:
    return psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True)


async def test_database_down_gives_503_and_writes_nothing(
    make_client: MakeClient, database_url: str
) -> None:
    client = await make_client()
    app = app_of(client)
    engine = WorkflowEngine(app.state.db)
    inst = await engine.start("WF-WELL-BOOK", "booking:B-503")
    before = len(await engine.history(inst.id))
    name = str(conninfo_to_dict(database_url)["dbname"])
    with _admin(database_url) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        try:
            r = await client.post(
                f"/v1/instances/{inst.id}/events", json={"event": "consultation_scheduled"}
            )
            assert r.status_code == 503, r.text
            assert r.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
            assert r.headers["retry-after"] == "5"
            body = r.json()
            assert body["type"].endswith("/database-unavailable") and "Traceback" not in r.text
        finally:
            admin.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
            )
    # the database is back: the refused request left the case untouched
    got = await engine.get(inst.id)
    assert (got.state, got.version) == (inst.state, inst.version)
    assert len(await engine.history(inst.id)) == before
    r = await client.get("/healthz")
    assert r.status_code == 200
