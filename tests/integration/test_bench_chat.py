"""``grace bench chat``'s orchestration scenario on the real runtime and Postgres checkpointer."""

from __future__ import annotations

import pytest

from evals.bench.chat_turn import turn_overhead
from graphs.core.settings import get_settings

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("durability", [None, "async"])
async def test_turn_overhead_measures_each_durability(
    database_url: str, durability: str | None
) -> None:
    scenario = await turn_overhead(get_settings(), database_url, turns=10, durability=durability)
    expected = "turn_overhead" if durability is None else "turn_overhead_durability_async"
    assert scenario.name == expected
    assert scenario.params["durability"] == (durability or "exit")
    assert scenario.latency.p50_ms > 0 and scenario.throughput_per_s > 0
