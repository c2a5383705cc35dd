"""``grace bench api`` in miniature: a real server, a few clients, two seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.bench.api import run_api_bench
from graphs.core.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_api_bench_measures_chat_and_workflow_reads(database_url: str) -> None:
    settings = Settings.model_validate({"DATABASE_URL": database_url})
    report = await run_api_bench(
        settings,
        duration_s=2.0,
        clients=4,
        scenarios=("chat", "chat_saturated", "workflows"),
        warmup_s=0.3,
        rates_per_client=(2.0,),
    )
    by_name = {s.name: s for s in report.scenarios}
    assert set(by_name) == {"chat_8_per_s", "chat_saturated", "workflows"}
    # Shape, not speed: how fast a shared machine answers is the bench's figure, not a test's.
    for s in report.scenarios:
        assert s.params["errors"] == 0 and s.params["requests"] >= 1
        assert s.throughput_per_s > 0 and s.latency.p50_ms > 0
    paced = by_name["chat_8_per_s"]
    assert paced.target is not None and isinstance(paced.met, bool)
    assert paced.params["load"] == "poisson" and paced.params["offered_per_s"] == 8.0
    assert report.environment["database"] == "DATABASE_URL"


async def test_api_bench_spreads_clients_over_several_server_processes(database_url: str) -> None:
    settings = Settings.model_validate({"DATABASE_URL": database_url})
    report = await run_api_bench(
        settings, duration_s=1.5, clients=4, scenarios=("workflows",), warmup_s=0.2, servers=2
    )
    (row,) = report.scenarios
    assert row.params["errors"] == 0 and row.params["requests"] >= 1
    assert "2 process(es)" in str(report.environment["server"])


async def test_api_bench_offline_runtime_scenario(database_url: str, tmp_path: Path) -> None:
    """chat_offline: the real router, retrieval and offline replies behind the API."""
    settings = Settings.model_validate({"DATABASE_URL": database_url, "data_dir": tmp_path})
    report = await run_api_bench(
        settings, duration_s=2.0, clients=2, scenarios=("chat_offline",), warmup_s=0.5
    )
    (row,) = report.scenarios
    assert row.name == "chat_offline" and row.params["errors"] == 0
    assert row.params["requests"] >= 1 and row.throughput_per_s > 0
    assert row.params["runtime"] == "real router, retrieval, offline replies"
    assert list(tmp_path.glob("models/triage-*.pkl"))  # the real triage ran, fitted once
