"""``grace ingest supabase://BUCKET/PREFIX`` as a user runs it (Storage behind respx)."""

from __future__ import annotations

import json

import pytest
import respx
from typer.testing import CliRunner

from agents.testing import HashingEmbedder
from api.cli.main import app
from tests.fakes.supabase_storage import KEY, URL, FakeStorage

pytestmark = pytest.mark.integration

runner = CliRunner()


def test_without_settings_it_names_them_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused.invalid/db")  # never reached
    result = runner.invoke(app, ["ingest", "supabase://kb/handbook"])
    assert result.exit_code == 2
    assert "SUPABASE_URL" in result.output and "SUPABASE_KEY" in result.output
    bad = runner.invoke(app, ["ingest", "supabase:///nobucket"])
    assert bad.exit_code == 2 and "names no bucket" in bad.output


def test_ingests_a_prefix_and_is_idempotent(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import knowledge.embedding.factory as factory

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SUPABASE_URL", URL)
    monkeypatch.setenv("GRACE_SUPABASE_KEY", KEY)
    monkeypatch.setattr(factory, "get_default_embedder", lambda *_: HashingEmbedder(384))
    fake = FakeStorage({"kb": {"guides/hours.md": b"# Hours\n\nOpen Tuesday to Sunday.\n",
                               "guides/missing-later.txt": b"Parking is free."}})  # fmt: skip
    with respx.mock(assert_all_called=False) as mock:
        fake.install(mock)
        args = ["ingest", "supabase://kb/guides", "--collection", "kb", "--json"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        job = json.loads(first.stdout)
        assert (job["files_done"], job["files_failed"]) == (2, 0)
        again = json.loads(runner.invoke(app, args).stdout)
        assert (again["files_done"], again["files_skipped"]) == (0, 2)
        gone = runner.invoke(app, ["ingest", "supabase://kb/guides/nope.md", "--json"])
        assert gone.exit_code == 1
        assert "Object not found" in json.loads(gone.stdout)["errors"][0]["error"]
    assert KEY not in first.output + gone.output
