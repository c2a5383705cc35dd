"""``grace bench knowledge`` at tiny sizes: the report's structure, not its speed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from evals.cli.main import app

pytestmark = [pytest.mark.integration, pytest.mark.slow]

runner = CliRunner()
SCENARIOS = ["ingest", "search_unfiltered", "search_filtered_10pct", "query_embedding",
             "retrieve_e2e"]  # fmt: skip


@pytest.fixture
def cli_env(database_url: str, local_embedder: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The command on the test database, with the session's already loaded model."""
    from knowledge.embedding.cache import CachedEmbedder

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(
        "knowledge.embedding.factory.make_embedder", lambda settings: CachedEmbedder(local_embedder)
    )
    return database_url


def _run(out: Path, *extra: str) -> dict[str, Any]:
    args = ["bench", "knowledge", "--vectors", "2000", "--queries", "20", "--out", str(out)]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    (report,) = out.glob("knowledge-*.json")
    assert list(out.glob("knowledge-*.md"))
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def test_bench_knowledge_report(cli_env: str, tmp_path: Path) -> None:
    data = _run(tmp_path, "--chunks", "30", "--files", "3", "--halfvec")
    assert data["benchmark"] == "knowledge"
    by_name = {s["name"]: s for s in data["scenarios"]}
    assert list(by_name) == SCENARIOS
    for s in data["scenarios"]:
        assert s["throughput_per_s"] > 0 and s["latency"]["count"] > 0

    ingest = by_name["ingest"]["params"]
    assert ingest["chunks"] > 0 and ingest["files"] == 3
    assert ingest["raw_encode_per_s"] > 0 and ingest["ratio_to_raw"] > 0
    assert ingest["raw_encode_as_flushed_per_s"] > 0 and ingest["encode_in_ingest_per_s"] > 0
    assert ingest["same_texts_as_planned"] is True
    assert by_name["ingest"]["met"] in (True, False)

    for name in ("search_unfiltered", "search_filtered_10pct"):
        s = by_name[name]
        assert 0.0 <= s["params"]["recall_at_10"] <= 1.0
        assert s["latency"]["count"] == 20 and s["met"] in (True, False)
    assert by_name["search_unfiltered"]["params"]["rows"] == 2000
    assert 0 < by_name["search_filtered_10pct"]["params"]["rows"] < 2000
    assert by_name["retrieve_e2e"]["params"]["passages_per_query"] >= 0

    names = [a["name"] for a in data["alternatives"]]
    assert any("exact scan" in n for n in names)
    assert any("partial HNSW index" in n for n in names)
    assert any("ef_construction = 64" in n for n in names)
    assert any("halfvec" in n for n in names)
    assert all({"p50_ms", "p95_ms", "recall_at_10"} <= set(a) for a in data["alternatives"])

    env = data["environment"]
    assert env["database"] == "DATABASE_URL" and env["hnsw_build_s"] >= 0
    assert {"shared_buffers", "buffers_unfiltered", "halfvec_index_mb"} <= set(env)
    assert "Alternatives" in next(tmp_path.glob("knowledge-*.md")).read_text()

    # A shared database is left as it was: no bench rows, no bench indexes.
    with psycopg.connect(cli_env) as conn:
        docs = conn.execute(
            "SELECT count(*) FROM kb_documents WHERE source LIKE 'bench://%'"
            " OR collection = 'bench-handbook'"
        ).fetchone()
        indexes = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%bench/synthetic%'"
            " OR indexname LIKE 'bench_kb_%'"
        ).fetchall()
    assert docs == (0,) and indexes == []


def test_bench_knowledge_search_only(cli_env: str, tmp_path: Path) -> None:
    data = _run(tmp_path, "--skip-ingest")
    assert [s["name"] for s in data["scenarios"]] == SCENARIOS[1:3]
