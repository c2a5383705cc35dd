"""A new user's path: no DATABASE_URL, so the embedded server starts and migrates on first use."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from graphs.core.database import Database
from graphs.core.embedded import EmbeddedPostgres
from graphs.core.settings import get_settings
from graphs.workflows.engine import WorkflowEngine

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="gfe-", dir="/tmp"))
    monkeypatch.setenv("GRACE_DATA_DIR", str(root))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield root
    EmbeddedPostgres(root / "pgdata").stop()
    shutil.rmtree(root, ignore_errors=True)


async def test_first_use_starts_embedded_server_and_migrates(data_dir: Path) -> None:
    db = await Database.connect()
    try:
        inst = await WorkflowEngine(db).start("WF-KB-DEV", "document:welcome")
        assert inst.state == "topic_identification"
    finally:
        await db.close()
    assert (data_dir / "pgdata" / "PG_VERSION").exists()

    runner = CliRunner()
    status = runner.invoke(app, ["db", "status", "--json"])
    assert status.exit_code == 0, status.output
    info = json.loads(status.output)
    assert info["embedded"] is True and info["up_to_date"] is True
    assert info["data_dir"] == str((data_dir / "pgdata").resolve())
    assert "embedded PostgreSQL" in info["database"]

    # The data survives a server restart.
    stop = runner.invoke(app, ["db", "stop"])
    assert stop.exit_code == 0 and "stopped" in stop.output
    db = await Database.connect()
    try:
        found = await WorkflowEngine(db).find(subject="document:welcome")
        assert [i.id for i in found] == [inst.id]
    finally:
        await db.close()
