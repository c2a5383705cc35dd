"""``grace bench playbooks``: the playbook engine's own cost per step, and concurrent runs.

The measured playbook is a chain of ``notify`` steps with no event sinks, so a step's own work
is a few microseconds and what is timed is the engine: the ``plan`` node (cancel check, ready
steps, ``Send``), the ``step`` node's two run-store writes, and the Postgres checkpoints
(``durability="sync"``) between supersteps. One sample is the time between two consecutive step
completions of one run.

Scenarios:
    single_run: one run of the chain (target: p50 <= 5 ms per step on 2 cores, issue 16).
    single_run_async_checkpoints: the same with ``durability="async"`` (checkpoint writes
        overlap the next superstep).
    concurrent_<n>: ``n`` runs of the chain at once; throughput is steps/s over all of them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from evals.scratch import recreate_database
from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.playbooks.model import Playbook, PlaybookCatalog
from graphs.playbooks.runner import PlaybookRunner, open_checkpointer

#: Issue 16's target for the engine's overhead per step (p50, 2 cores).
STEP_P50_TARGET_MS = 5.0


def chain(steps: int) -> Playbook:
    """A playbook of ``steps`` ``notify`` steps, each depending on the previous one."""
    return Playbook.model_validate({
        "id": "bench-chain", "version": 1, "name": "bench chain",
        "description": "benchmark: a chain of notifications",
        "steps": [{"id": f"s{i}", "kind": "notify", "persona": "system", "topic": "bench.tick",
                   "depends_on": [f"s{i - 1}"] if i else []} for i in range(steps)],
    })  # fmt: skip


async def _runs(runner: PlaybookRunner, n: int, gaps: list[float]) -> float:
    marks: dict[str, float] = {}

    async def sink(e: dict[str, Any]) -> None:
        if e["type"] in ("playbook.started", "playbook.step.completed"):
            now = time.perf_counter()
            last = marks.get(e["run_id"])
            if last is not None and e["type"] == "playbook.step.completed":
                gaps.append(now - last)
            marks[e["run_id"]] = now

    runner.services.sinks[:] = [sink]
    t0 = time.perf_counter()
    runs = await asyncio.gather(*(runner.start("bench-chain") for _ in range(n)))
    elapsed = time.perf_counter() - t0
    assert all(r.status == "completed" for r in runs), [r.error for r in runs]
    return elapsed


async def run_playbook_bench(
    settings: Settings, *, steps: int = 200, concurrency: int = 8
) -> BenchReport:
    """Measure the engine's per-step overhead and concurrent runs.

    Args:
        settings: Where to run (a scratch ``grace_bench_playbooks`` database is recreated).
        steps: Steps in the measured chain.
        concurrency: Runs at once in the concurrent scenario.
    """
    url, _ = await recreate_database(settings, "grace_bench_playbooks")
    size = max(4, concurrency + 2)
    db = await Database.connect(
        settings.model_copy(update={"db_pool_min_size": 2, "db_pool_max_size": size}), url=url
    )
    saver, pool = await open_checkpointer(url, max_size=size)
    try:
        runner = PlaybookRunner(db, saver, playbooks=PlaybookCatalog([chain(steps)]))
        await _runs(runner, 1, [])  # warm-up: compile, connections, statement caches
        scenarios = []
        gaps: list[float] = []
        elapsed = await _runs(runner, 1, gaps)
        lat = LatencySummary.from_seconds(gaps)
        scenarios.append(Scenario(
            name="single_run", throughput_per_s=round(steps / elapsed, 1), latency=lat,
            params={"runs": 1, "steps_per_run": steps},
            target=f"p50 <= {STEP_P50_TARGET_MS:g} ms per step",
            met=lat.p50_ms <= STEP_P50_TARGET_MS,
        ))  # fmt: skip
        runner.durability = "async"
        gaps = []
        elapsed = await _runs(runner, 1, gaps)
        scenarios.append(Scenario(
            name="single_run_async_checkpoints", throughput_per_s=round(steps / elapsed, 1),
            latency=LatencySummary.from_seconds(gaps),
            params={"runs": 1, "steps_per_run": steps, "durability": "async"},
        ))  # fmt: skip
        runner.durability = "sync"
        gaps = []
        elapsed = await _runs(runner, concurrency, gaps)
        scenarios.append(Scenario(
            name=f"concurrent_{concurrency}",
            throughput_per_s=round(concurrency * steps / elapsed, 1),
            latency=LatencySummary.from_seconds(gaps),
            params={"runs": concurrency, "steps_per_run": steps},
        ))  # fmt: skip
    finally:
        await pool.close()
        await db.close()
    env = machine_facts() | {"durability": "sync", "checkpointer": "PooledPostgresSaver"}
    return BenchReport(benchmark="playbooks", scenarios=scenarios, environment=env)
