"""``grace ingest``, ``grace search`` and ``grace knowledge`` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "knowledge"
runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ingest_search_archive(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, local_embedder: object
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    docs_dir = tmp_path / "docs"
    shutil.copytree(FIXTURES, docs_dir)
    (docs_dir / "README.md").unlink()

    job = json.loads(
        _ok("ingest", str(docs_dir), "--collection", "kb", "--operator", "ana", "--json")
    )
    assert job["status"] == "done" and job["files_done"] == 4 and job["files_failed"] == 0

    again = json.loads(_ok("ingest", str(docs_dir), "--collection", "kb", "--json"))
    assert again["files_skipped"] == 4 and again["chunks_written"] == 0

    docs = json.loads(_ok("knowledge", "docs", "--json"))
    assert len(docs) == 4 and {d["state"] for d in docs} == {"active"}
    jobs = json.loads(_ok("knowledge", "jobs", "--json"))
    assert [j["id"] for j in jobs] == [again["id"], job["id"]]

    guide = next(d for d in docs if d["source"].endswith("guide.md"))
    heading = guide["title"]
    hits = json.loads(_ok("search", heading, "--json", "--threshold", "0"))
    assert hits and all("citation" in h and h["citation"]["chunk_id"] for h in hits)
    assert any(h["citation"]["source"] == guide["source"] for h in hits)
    table = _ok("search", heading, "--threshold", "0")
    assert "similarity" in table and "chunk" in table

    out = _ok("knowledge", "archive", guide["id"], "--reason", "old", "--operator", "ana")
    assert "no longer served" in out
    hits = json.loads(_ok("search", heading, "--json", "--threshold", "0", "--k", "20"))
    assert all(h["citation"]["source"] != guide["source"] for h in hits)

    # ingesting the folder again leaves it archived (exit 1: the file is reported) ...
    kept = runner.invoke(app, ["ingest", str(docs_dir), "--collection", "kb", "--json"])
    assert kept.exit_code == 1, kept.output
    assert [e["source"] for e in json.loads(kept.stdout)["errors"]] == [guide["source"]]
    hits = json.loads(_ok("search", heading, "--json", "--threshold", "0", "--k", "20"))
    assert all(h["citation"]["source"] != guide["source"] for h in hits)
    # ... until someone reactivates it on purpose
    back = json.loads(
        _ok("ingest", str(docs_dir), "--collection", "kb", "--reactivate", "--operator", "bo",
            "--json")
    )  # fmt: skip
    assert back["files_done"] == 1 and back["files_failed"] == 0
    states = {d["source"]: d["state"] for d in json.loads(_ok("knowledge", "docs", "--json"))}
    assert states[guide["source"]] == "active"

    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope.md"), "--json"])
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["errors"][0]["error"] == "no such file or directory"

    bad = runner.invoke(app, ["ingest", str(docs_dir), "--chunker", "magic"])
    assert bad.exit_code == 2 and "choose one of" in bad.output


def test_workflow_articles_command(tmp_path: Path) -> None:
    out = _ok("knowledge", "workflow-articles", "--out", str(tmp_path))
    assert "Wrote 14 articles" in out
    assert (tmp_path / "wf-kb-dev.md").exists()
