"""``grace bench api``: the HTTP API under concurrent load on loopback.

A real uvicorn server runs in this process on a free loopback port, in front of the real
runtime and database (a scratch database ``grace_bench_api`` on the embedded server, or
``DATABASE_URL``), with a fake chat model that answers at once and a fixed router, so the
figures are what the API, the supervisor graph and PostgreSQL cost — not an LLM. N clients
(httpx, keep-alive, one connection each) send requests back to back for a bounded time per
scenario; every non-2xx answer or transport error counts as an error.

Scenarios:
    chat: ``POST /v1/chat``; each client rotates to a new thread every 5 turns.
    workflows: ``GET /v1/instances/{id}`` and ``GET /v1/workflows/{id}/instances`` alternately.
    search: ``POST /v1/knowledge/search`` over the shipped handbook (real local embedder).

The clients share the CPU with the server (2 cores on the reference machine), so the
latencies include client-side overhead; they are an upper bound of the server's own.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from psycopg import sql

from evals.bench.api_server import serving
from evals.bench.chat_turn import FixedRouter, InstantChatModel
from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from graphs.core.database import Database, resolve_target
from graphs.core.embedded import database_uri
from graphs.core.settings import Settings

#: Target from the API issue: chat p99 with the fake LLM, and no errors.
CHAT_P99_TARGET_MS = 100.0
SCENARIOS = ("chat", "workflows", "search")
_TURNS_PER_THREAD = 5
_QUESTIONS = (
    "How do I cancel a booking?",
    "What does a gallery consignment involve?",
    "How do memberships work?",
    "How can I reach a person?",
    "How is a consulting engagement run?",
)

Request = Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]]


@dataclass
class LoadResult:
    """Latencies of successful requests and the errors of one load run."""

    samples: list[float]
    errors: int
    elapsed_s: float


async def drive(
    url: str, request: Request, *, clients: int, duration_s: float, warmup_s: float = 1.0
) -> LoadResult:
    """``clients`` concurrent clients call ``request(client, user, k)`` until the time is up.

    A warm-up of ``warmup_s`` runs first and is not measured.
    """

    async def user(i: int, until: float, samples: list[float], errors: list[int]) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for k in itertools.count():
                if time.perf_counter() >= until:
                    return
                t0 = time.perf_counter()
                try:
                    ok = (await request(client, i, k)).is_success
                except httpx.HTTPError:
                    ok = False
                if ok:
                    samples.append(time.perf_counter() - t0)
                else:
                    errors.append(1)

    if warmup_s > 0:
        until = time.perf_counter() + warmup_s
        await asyncio.gather(*(user(i, until, [], []) for i in range(clients)))
    samples: list[float] = []
    errors: list[int] = []
    t0 = time.perf_counter()
    until = t0 + duration_s
    await asyncio.gather(*(user(i, until, samples, errors) for i in range(clients)))
    return LoadResult(samples, len(errors), time.perf_counter() - t0)


def _scenario(name: str, result: LoadResult, clients: int, **params: Any) -> Scenario:
    samples = result.samples if len(result.samples) >= 2 else [0.0, 0.0]
    return Scenario(
        name=name,
        throughput_per_s=round(len(result.samples) / result.elapsed_s, 1),
        latency=LatencySummary.from_seconds(samples),
        params={"clients": clients, "requests": len(result.samples), "errors": result.errors,
                "duration_s": round(result.elapsed_s, 2), **params},
    )  # fmt: skip


def _chat(run: str) -> Request:
    async def call(client: httpx.AsyncClient, user: int, k: int) -> httpx.Response:
        thread = f"bench-{run}-{user}-{k // _TURNS_PER_THREAD}"
        body = {"message": f"Can I move my booking to Friday? ({k})", "thread_id": thread}
        return await client.post("/v1/chat", json=body)

    return call


def _workflow_reads(ids: Sequence[str]) -> Request:
    async def call(client: httpx.AsyncClient, user: int, k: int) -> httpx.Response:
        if k % 2:
            return await client.get("/v1/workflows/WF-CONSULT/instances", params={"limit": 20})
        return await client.get(f"/v1/instances/{ids[(user + k) % len(ids)]}")

    return call


async def _search(client: httpx.AsyncClient, user: int, k: int) -> httpx.Response:
    body = {"query": _QUESTIONS[(user + k) % len(_QUESTIONS)], "k": 5}
    return await client.post("/v1/knowledge/search", json=body)


async def _scratch_url(settings: Settings) -> str:
    """A fresh ``grace_bench_api`` database on the embedded server, or ``DATABASE_URL``."""
    target = await asyncio.to_thread(resolve_target, settings)
    if not target.embedded:
        return target.url
    import psycopg

    name = "grace_bench_api"
    admin = database_uri(target.url, "postgres")
    async with await psycopg.AsyncConnection.connect(admin, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        await conn.execute(drop)
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_uri(target.url, name)


async def run_api_bench(
    settings: Settings,
    *,
    duration_s: float = 20.0,
    clients: int = 50,
    scenarios: Sequence[str] = SCENARIOS,
    warmup_s: float = 2.0,
) -> BenchReport:
    """Measure the API under ``clients`` concurrent clients, ``duration_s`` per scenario.

    Args:
        settings: Where to run (see the module docstring); the rate limit is lifted for the
            run (every request is the same dev-mode principal).
        duration_s: Measured seconds per scenario.
        clients: Concurrent clients.
        scenarios: Any of :data:`SCENARIOS` (``search`` loads the local embedding model).
        warmup_s: Unmeasured warm-up per scenario.

    Returns:
        One scenario per name; ``chat`` carries the issue's target (p99 < 100 ms, 0 errors).

    Raises:
        ValueError: an unknown scenario name.
    """
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}: choose from {', '.join(SCENARIOS)}")
    from api.app import create_app
    from graphs.runtime import GraceRuntime
    from graphs.workflows.engine import WorkflowEngine

    settings = settings.model_copy(
        update={"rate_limit": "100000000/minute", "db_pool_min_size": 4, "db_pool_max_size": 20}
    )
    url = await _scratch_url(settings)
    db = await Database.connect(settings, url=url)
    search = "search" in scenarios
    embedder = None
    if search:
        from knowledge.embedding.factory import get_default_embedder

        embedder = get_default_embedder(settings)
    else:
        from evals.bench.chat_turn import _NoEmbedder

        embedder = _NoEmbedder()
    rt = await GraceRuntime.open(
        settings, db=db, model=InstantChatModel(), router=FixedRouter(), embedder=embedder,
        knowledge=search,
    )  # fmt: skip
    results: list[Scenario] = []
    try:
        if search:
            await _ingest_handbook(db, embedder)
        engine = WorkflowEngine(db)
        ids = [str((await engine.start("WF-CONSULT", f"bench:{i}")).id) for i in range(50)]
        app = create_app(settings, runtime=rt, dev=True)
        async with serving(app, lifespan="on") as base:
            run = uuid.uuid4().hex[:8]
            plan: dict[str, Request] = {
                "chat": _chat(run), "workflows": _workflow_reads(ids), "search": _search,
            }  # fmt: skip
            for name in scenarios:
                res = await drive(
                    base, plan[name], clients=clients, duration_s=duration_s, warmup_s=warmup_s
                )
                results.append(_scenario(name, res, clients))
        await app.state.background.cancel_all()
    finally:
        await rt.close()
        await db.close()
    for s in results:
        if s.name == "chat":
            s.target = f"p99 < {CHAT_P99_TARGET_MS:.0f} ms, 0 errors"
            s.met = s.latency.p99_ms < CHAT_P99_TARGET_MS and s.params["errors"] == 0
    env = machine_facts() | {
        "server": "uvicorn in-process, loopback",
        "llm": "instant fake",
        "router": "fixed",
        "database": "embedded" if settings.uses_embedded_database else "DATABASE_URL",
    }
    return BenchReport(benchmark="api", scenarios=results, environment=env)


async def _ingest_handbook(db: Database, embedder: Any) -> None:
    from importlib import resources

    from knowledge.ingest import IngestOptions, Ingestor

    corpus = resources.files("knowledge") / "corpus" / "handbook"
    await Ingestor(db, embedder).ingest(
        [str(corpus)], IngestOptions(collection="handbook", operator="bench")
    )
