"""``grace bench workflows``: transitions per second through the engine.

Scenarios:
    single_client: one caller applying transitions back to back (each with an idempotency key),
        the figure the foundation issue targets (>= 1,000/s on 2 cores).
    concurrent_8: eight callers on eight instances sharing one pool of eight connections.

Every transition goes through :meth:`WorkflowEngine.apply` with full checks and a durable commit.
The cycle used is WF-CONSULT ``execution <-> review`` (owner ``ruvo``), which can repeat forever.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from evals.scratch import recreate_database
from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.records import Instance

#: Target from the foundation issue: transitions per second for one client on 2 cores.
SINGLE_CLIENT_TARGET = 1000.0
_WARMUP = 100
_PATH_TO_EXECUTION = [
    ("lead_qualified", "nyra"),
    ("discovery_complete", "nyra"),
    ("proposal_sent", "nyra"),
    ("terms_agreed", "human:bench"),
    ("contract_signed", "human:bench"),
    ("kickoff_complete", "ruvo"),
]
_CYCLE = ("review_scheduled", "continue_execution")


async def _instance_in_execution(engine: WorkflowEngine, tag: str) -> Instance:
    inst = await engine.start("WF-CONSULT", f"bench:{tag}", actor="system")
    for event, actor in _PATH_TO_EXECUTION:
        await engine.apply(inst.id, event, actor)
    return inst


async def _drive(engine: WorkflowEngine, inst: Instance, n: int, samples: list[float]) -> None:
    run = uuid.uuid4().hex[:12]
    for k in range(n):
        t0 = time.perf_counter()
        await engine.apply(inst.id, _CYCLE[k % 2], "ruvo", f"bench-{run}-{k}")
        samples.append(time.perf_counter() - t0)


async def _scenario(
    engine: WorkflowEngine, name: str, callers: int, per_caller: int
) -> tuple[float, list[float]]:
    insts = [await _instance_in_execution(engine, f"{name}-{i}") for i in range(callers)]
    await asyncio.gather(*(_drive(engine, i, _WARMUP, []) for i in insts))
    samples: list[float] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(_drive(engine, i, per_caller, samples) for i in insts))
    elapsed = time.perf_counter() - t0
    return callers * per_caller / elapsed, samples


async def run_workflow_bench(
    settings: Settings, *, transitions: int = 3000, concurrency: int = 8
) -> BenchReport:
    """Measure engine throughput and latency.

    Args:
        settings: Where to run (embedded server by default: a scratch ``grace_bench`` database
            is recreated; with ``DATABASE_URL`` rows with subject type ``bench`` are added).
        transitions: Measured transitions per scenario (after a warm-up of 100 per caller).
        concurrency: Callers in the concurrent scenario.

    Returns:
        The report with ``single_client`` and ``concurrent_<n>`` scenarios.
    """
    url, _ = await recreate_database(settings, "grace_bench")
    db = await Database.connect(
        settings.model_copy(
            update={"db_pool_min_size": concurrency, "db_pool_max_size": concurrency}
        ),
        url=url,
    )
    try:
        engine = WorkflowEngine(db)
        async with db.connection() as conn:
            row = await (await conn.execute("SHOW server_version")).fetchone()
            sync = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        scenarios = []
        rate, samples = await _scenario(engine, "single_client", 1, transitions)
        scenarios.append(
            Scenario(
                name="single_client",
                throughput_per_s=round(rate, 1),
                latency=LatencySummary.from_seconds(samples),
                params={"callers": 1, "transitions": transitions},
                target=f">= {SINGLE_CLIENT_TARGET:,.0f}/s",
                met=rate >= SINGLE_CLIENT_TARGET,
            )
        )
        per = max(1, transitions // concurrency)
        rate, samples = await _scenario(engine, f"concurrent_{concurrency}", concurrency, per)
        scenarios.append(
            Scenario(
                name=f"concurrent_{concurrency}",
                throughput_per_s=round(rate, 1),
                latency=LatencySummary.from_seconds(samples),
                params={"callers": concurrency, "transitions": per * concurrency},
            )
        )
    finally:
        await db.close()
    env = machine_facts() | {
        "postgres": row[0] if row else "?",
        "synchronous_commit": sync[0] if sync else "?",
        "database": "embedded" if settings.uses_embedded_database else "DATABASE_URL",
    }
    return BenchReport(benchmark="workflows", scenarios=scenarios, environment=env)
