"""Orchestration overhead of one chat turn: supervisor graph + Postgres checkpointer.

The model is a fake that answers instantly and the router is fixed, so the figure is what
Grace itself costs per turn (graph steps, state reducers, checkpoint writes, escalation
bookkeeping) — the part no provider or router speed-up can remove.
"""

from __future__ import annotations

import time
import uuid

from agents.testing import FixedRouter, InstantChatModel, NoEmbedder
from evals.bench.report import LatencySummary, Scenario
from graphs.core.database import Database
from graphs.core.settings import Settings

#: Target from the chat issue: p50 orchestration overhead per turn on 2 cores.
OVERHEAD_TARGET_MS = 10.0


async def turn_overhead(
    settings: Settings, url: str, *, turns: int = 200, durability: str | None = None
) -> Scenario:
    """Time ``turns`` chat turns (20 threads, 10 turns each) through the full runtime.

    Args:
        settings: Process settings.
        url: Database to run against.
        turns: Timed turns.
        durability: Checkpoint durability to measure (default: the configured one); the
            scenario is named ``turn_overhead`` for the default, else
            ``turn_overhead_durability_<mode>``.
    """
    from graphs.runtime import GraceRuntime

    if durability is not None:
        settings = settings.model_copy(update={"checkpoint_durability": durability})

    db = await Database.connect(settings, url=url)
    rt = await GraceRuntime.open(
        settings,
        db=db,
        model=InstantChatModel(),
        router=FixedRouter(),
        knowledge=False,
        embedder=NoEmbedder(),
    )
    samples: list[float] = []
    try:
        threads = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(max(1, turns // 10))]
        for t in threads[:2]:  # warm-up
            await rt.ask("warm up", thread_id=t)
        for i in range(turns):
            t0 = time.perf_counter()
            await rt.ask(f"Can I move my booking? ({i})", thread_id=threads[i % len(threads)])
            samples.append(time.perf_counter() - t0)
    finally:
        await rt.close()
        await db.close()
    lat = LatencySummary.from_seconds(samples)
    return Scenario(
        name="turn_overhead" if durability is None else f"turn_overhead_durability_{durability}",
        throughput_per_s=round(len(samples) / sum(samples), 1),
        latency=lat,
        params={
            "turns": turns,
            "model": "instant fake",
            "router": "fixed",
            "checkpointer": "postgres",
            "durability": settings.checkpoint_durability,
        },
        target=f"p50 < {OVERHEAD_TARGET_MS:.0f} ms",
        met=lat.p50_ms < OVERHEAD_TARGET_MS,
    )
