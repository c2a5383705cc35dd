"""``grace bench crash`` on a small run: kill -9 mid-turn loses and doubles nothing."""

from __future__ import annotations

import pytest

from evals.bench.crash import run_crash_bench
from graphs.core.settings import Settings

# Two server processes start one after the other on a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


async def test_kill_9_mid_turn_loses_and_duplicates_nothing(database_url: str) -> None:
    report = await run_crash_bench(
        Settings(), clients=4, turns=3, turn_s=1.0, without_keys=True, url=database_url
    )
    keyed, unkeyed = report.scenarios
    p = keyed.params
    assert p["in_flight_at_kill"] >= 1, p  # the kill landed mid-turn
    assert (p["lost"], p["duplicated"], p["unanswered"]) == (0, 0, 0), p
    # the new server finished the cut-off turns before any client wrote again
    assert p["recovered_before_retry"] == p["in_flight_at_kill"], p
    assert keyed.met is True
    # without keys the retries are stored a second time: what the keys prevent
    q = unkeyed.params
    assert q["lost"] == 0 and q["duplicated"] == q["in_flight_at_kill"] >= 1, q
