"""``grace bench api``: the HTTP API under concurrent load on loopback.

The server is a separate process (``python -m evals.bench.api_server``, uvicorn on uvloop) in
front of the real app, runtime and database (a scratch database ``grace_bench_api`` on the
embedded server, or ``DATABASE_URL``), with a fake chat model that answers at once and a fixed
router, so the figures are what the API, the supervisor graph and PostgreSQL cost — not an
LLM. The clients (httpx, keep-alive, one connection each) run in this process. Every non-2xx
answer or transport error counts as an error.

Scenarios:
    chat: ``POST /v1/chat`` at steady offered loads, one row per rate (``chat_<R>_per_s``):
        each of N clients sends messages at Poisson arrival times (``rate`` per second per
        client; a late answer delays the client's next message, never bunches them). Latency
        is measured from each send, so it is the service time plus the queueing that load
        causes: the rows draw the latency-versus-load curve up to capacity. Each carries the
        issue's target.
    chat_saturated: the same clients sending back to back (closed loop): the server's
        capacity in turns/s. With N clients always waiting, latency ≈ N / throughput
        (Little's law), so this row measures capacity, not responsiveness.
    workflows: ``GET /v1/instances/{id}`` and ``GET /v1/workflows/{id}/instances``
        alternately, back to back.
    search: ``POST /v1/knowledge/search`` over the shipped handbook (real local embedder),
        back to back.
    chat_offline: ``POST /v1/chat`` back to back (closed loop) against a second server
        process that runs what a user without an LLM key runs: the real local router (ONNX
        MiniLM + the fitted ensemble), retrieval over the handbook and offline replies. Half
        the turns are handbook questions, half booking requests. Its throughput is the
        capacity a keyless user sees; the rows above isolate the API and graph overhead.

The clients share the 2 cores of the reference machine with the server and PostgreSQL, so the
latencies include client-side overhead; they are an upper bound of the server's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from evals.scratch import recreate_database
from graphs.core.database import Database
from graphs.core.settings import Settings

#: Target from the API issue: chat p99 with the fake LLM, and no errors.
CHAT_P99_TARGET_MS = 100.0
SCENARIOS = ("chat", "chat_saturated", "workflows", "search", "chat_offline")
#: Default offered loads per chat client, messages/s. With 50 clients: 12.5, 25 and 50 turns/s
#: in all, against a person typing to an agent every 15-30 s (~0.05/s each).
RATES_PER_CLIENT = (0.25, 0.5, 1.0)
#: The scratch database on the embedded server.
SCRATCH_DATABASE = "grace_bench_api"
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


@asynccontextmanager
async def _connected(
    url: str | Sequence[str], clients: int
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``clients`` keep-alive HTTP clients, each connected once before any timing starts.

    With several server URLs, client ``i`` talks to ``url[i % len(url)]``.

    Making a client costs tens of milliseconds of CPU (httpx builds an SSL context for each),
    so clients made inside a timed phase would stall the load generator and then release
    the overdue requests all at once: bursts the server never sees in service.
    """
    urls = [url] if isinstance(url, str) else list(url)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=urls[i % len(urls)], timeout=60)
            )
            for i in range(clients)
        ]
        await asyncio.gather(*(c.get("/healthz") for c in pool))  # open each connection
        yield pool


User = Callable[[httpx.AsyncClient, int, float, list[float], list[int]], Awaitable[None]]


async def _send(
    request: Request,
    client: httpx.AsyncClient,
    user: int,
    k: int,
    samples: list[float],
    errors: list[int],
) -> float:
    """One timed request: its latency goes to ``samples``, a failure to ``errors``.

    Returns:
        When it was sent (``time.perf_counter()``).
    """
    t0 = time.perf_counter()
    try:
        ok = (await request(client, user, k)).is_success
    except httpx.HTTPError:
        ok = False
    if ok:
        samples.append(time.perf_counter() - t0)
    else:
        errors.append(1)
    return t0


async def _phases(
    url: str | Sequence[str], user: User, *, clients: int, duration_s: float, warmup_s: float
) -> LoadResult:
    """Run ``user`` for every client: an unmeasured warm-up, then the measured phase."""
    async with _connected(url, clients) as pool:
        if warmup_s > 0:
            until = time.perf_counter() + warmup_s
            await asyncio.gather(*(user(c, i, until, [], []) for i, c in enumerate(pool)))
        samples: list[float] = []
        errors: list[int] = []
        t0 = time.perf_counter()
        until = t0 + duration_s
        await asyncio.gather(*(user(c, i, until, samples, errors) for i, c in enumerate(pool)))
        return LoadResult(samples, len(errors), time.perf_counter() - t0)


async def drive(
    url: str | Sequence[str],
    request: Request,
    *,
    clients: int,
    duration_s: float,
    warmup_s: float = 1.0,
) -> LoadResult:
    """``clients`` concurrent clients call ``request(client, user, k)`` until the time is up.

    ``url``: the server, or several (clients are spread over them). A warm-up of
    ``warmup_s`` runs first and is not measured.
    """
    counters = [itertools.count() for _ in range(clients)]

    async def user(
        client: httpx.AsyncClient, i: int, until: float, samples: list[float], errors: list[int]
    ) -> None:
        for k in counters[i]:
            if time.perf_counter() >= until:
                return
            await _send(request, client, i, k, samples, errors)

    return await _phases(url, user, clients=clients, duration_s=duration_s, warmup_s=warmup_s)


async def drive_paced(
    url: str | Sequence[str],
    request: Request,
    *,
    clients: int,
    duration_s: float,
    rate_per_client: float,
    warmup_s: float = 1.0,
    seed: int = 7,
) -> LoadResult:
    """``clients`` clients each send at Poisson arrival times, ``rate_per_client`` per second.

    A client whose answer arrives after its next scheduled send sends at once and reschedules
    from then, so a slow server sees the offered load, not a burst. A warm-up of ``warmup_s``
    runs first and is not measured.
    """
    rng = random.Random(seed)
    counters = [itertools.count() for _ in range(clients)]

    async def user(
        client: httpx.AsyncClient, i: int, until: float, samples: list[float], errors: list[int]
    ) -> None:
        due = time.perf_counter() + rng.expovariate(rate_per_client)
        for k in counters[i]:
            if due >= until:
                return
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            sent = await _send(request, client, i, k, samples, errors)
            due = max(due, sent) + rng.expovariate(rate_per_client)

    return await _phases(url, user, clients=clients, duration_s=duration_s, warmup_s=warmup_s)


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


def _chat_offline(run: str) -> Request:
    """Offline-runtime turns; a thread the real triage handed to a person is not written again.

    A level-4 turn pauses its thread until a person decides (later messages answer 409
    ``thread-waiting-for-person``, as they should), so that user goes on in a new thread.
    """
    paused: dict[int, int] = {}  # user -> turn index from which a new thread starts

    async def call(client: httpx.AsyncClient, user: int, k: int) -> httpx.Response:
        start = paused.get(user, 0)
        thread = f"bench-off-{run}-{user}-{start}-{(k - start) // _TURNS_PER_THREAD}"
        if k % 2:
            message = f"Can I move my booking to Friday? ({k})"
        else:
            message = _QUESTIONS[(user + k) % len(_QUESTIONS)]
        response = await client.post("/v1/chat", json={"message": message, "thread_id": thread})
        if response.is_success and response.json().get("level") == 4:
            paused[user] = k + 1
        return response

    return call


async def _search(client: httpx.AsyncClient, user: int, k: int) -> httpx.Response:
    body = {"query": _QUESTIONS[(user + k) % len(_QUESTIONS)], "k": 5}
    return await client.post("/v1/knowledge/search", json=body)


async def run_api_bench(
    settings: Settings,
    *,
    duration_s: float = 20.0,
    clients: int = 50,
    scenarios: Sequence[str] = SCENARIOS,
    warmup_s: float = 2.0,
    rates_per_client: Sequence[float] = RATES_PER_CLIENT,
    servers: int = 1,
) -> BenchReport:
    """Measure the API under ``clients`` concurrent clients, ``duration_s`` per scenario.

    Args:
        settings: Where to run (see the module docstring); the rate limit is lifted for the
            run (every request is the same dev-mode principal).
        duration_s: Measured seconds per scenario.
        clients: Concurrent clients.
        scenarios: Any of :data:`SCENARIOS` (``search`` and ``chat_offline`` load the local
            embedding model and ingest the handbook).
        warmup_s: Unmeasured warm-up per scenario.
        rates_per_client: Messages per second each client offers in ``chat``, one row each.
        servers: Server processes (like ``grace serve --workers N``); clients are spread
            over them.

    Returns:
        One scenario per name, and one ``chat_<R>_per_s`` per rate for ``chat``; those carry
        the issue's target (p99 < 100 ms, 0 errors).

    Raises:
        ValueError: an unknown scenario name.
        TimeoutError: the server process did not start (its log is in the message).
    """
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}: choose from {', '.join(SCENARIOS)}")
    from evals.bench.api_server import bench_servers, wait_ready
    from graphs.workflows.engine import WorkflowEngine

    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"
    url, _ = await recreate_database(settings, SCRATCH_DATABASE)
    search = "search" in scenarios
    offline = "chat_offline" in scenarios
    results: list[Scenario] = []
    work = tempfile.mkdtemp(prefix="grace-bench-api-")
    env = {
        **os.environ, "DATABASE_URL": url, "GRACE_RATE_LIMIT": "100000000/minute",
        "GRACE_LOG_LEVEL": "WARNING", "GRACE_DB_POOL_MIN_SIZE": "4",
        "GRACE_DB_POOL_MAX_SIZE": "20", "GRACE_DATA_DIR": str(settings.data_dir),
    }  # fmt: skip
    db = await Database.connect(settings, url=url)
    try:
        if search or offline:
            from knowledge.embedding.factory import get_default_embedder

            await _ingest_handbook(db, get_default_embedder(settings))
        engine = WorkflowEngine(db)
        ids = [str((await engine.start("WF-CONSULT", f"bench:{i}")).id) for i in range(50)]
        with bench_servers(servers, env, Path(work), knowledge=search) as base:
            await wait_ready(base, Path(work))
            run = uuid.uuid4().hex[:8]
            for name in scenarios:
                if name == "chat_offline":
                    continue  # against its own server, below
                if name == "chat":
                    for rate in rates_per_client:
                        offered = clients * rate
                        res = await drive_paced(
                            base, _chat(f"{run}{rate}"), clients=clients,
                            duration_s=duration_s, rate_per_client=rate, warmup_s=warmup_s,
                        )  # fmt: skip
                        row = _scenario(
                            f"chat_{offered:g}_per_s", res, clients, load="poisson",
                            offered_per_s=round(offered, 2),
                        )  # fmt: skip
                        row.target = f"p99 < {CHAT_P99_TARGET_MS:.0f} ms, 0 errors"
                        row.met = (
                            row.latency.p99_ms < CHAT_P99_TARGET_MS and row.params["errors"] == 0
                        )
                        results.append(row)
                    continue
                plan: dict[str, Request] = {
                    "chat_saturated": _chat(run + "s"), "workflows": _workflow_reads(ids),
                    "search": _search,
                }  # fmt: skip
                res = await drive(
                    base, plan[name], clients=clients, duration_s=duration_s, warmup_s=warmup_s
                )
                results.append(_scenario(name, res, clients, load="closed loop"))
        if offline:
            logs = Path(work) / "offline"
            logs.mkdir()
            with bench_servers(servers, env, logs, offline=True) as base:
                await wait_ready(base, logs)
                res = await drive(
                    base, _chat_offline(uuid.uuid4().hex[:8]), clients=clients,
                    duration_s=duration_s, warmup_s=warmup_s,
                )  # fmt: skip
                row = _scenario("chat_offline", res, clients, load="closed loop")
                row.params["runtime"] = "real router, retrieval, offline replies"
                results.append(row)
    finally:
        await db.close()
        shutil.rmtree(work, ignore_errors=True)
    env_facts = machine_facts() | {
        "server": f"uvicorn (uvloop), {servers} process(es) of their own, loopback",
        "llm": "instant fake (chat_offline: offline replies)",
        "router": "fixed (chat_offline: the local router)",
        "database": "embedded" if settings.uses_embedded_database else "DATABASE_URL",
        "redis": "configured" if settings.redis_url is not None else "none",
        "load_1m_before": load,
    }
    return BenchReport(benchmark="api", scenarios=results, environment=env_facts)


async def _ingest_handbook(db: Database, embedder: Any) -> None:
    from importlib import resources

    from knowledge.ingest import IngestOptions, Ingestor

    corpus = resources.files("knowledge") / "corpus" / "handbook"
    await Ingestor(db, embedder).ingest(
        [str(corpus)], IngestOptions(collection="handbook", operator="bench")
    )
