"""``grace bench api`` in miniature: a real server, a few clients, two seconds."""

from __future__ import annotations

import pytest

from evals.bench.api import run_api_bench
from graphs.core.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_api_bench_measures_chat_and_workflow_reads(database_url: str) -> None:
    settings = Settings.model_validate({"DATABASE_URL": database_url})
    report = await run_api_bench(
        settings, duration_s=2.0, clients=4, scenarios=("chat", "workflows"), warmup_s=0.3
    )
    by_name = {s.name: s for s in report.scenarios}
    assert set(by_name) == {"chat", "workflows"}
    for s in report.scenarios:
        assert s.params["errors"] == 0 and s.params["requests"] > 10
        assert s.throughput_per_s > 0 and s.latency.p50_ms > 0
    assert by_name["chat"].target is not None and by_name["chat"].met is not None
    assert report.environment["database"] == "DATABASE_URL"
