"""``grace bench scale``: what a second API replica and a second queue worker buy, same run.

Everything runs as real processes on loopback against one database (a scratch database
``grace_bench_scale`` on the embedded server, or ``DATABASE_URL``) and one Redis (required):

* **Chat**: N HTTP clients send ``POST /v1/chat`` for a fixed time to one replica, then spread
  over two replicas. Each replica is a separate process (``python -m evals.bench.api_server
  PORT``) serving the real app and runtime with an instant fake chat model and a fixed
  router, so the figure is what the API, the supervisor graph, Redis (shared rate limit) and
  PostgreSQL cost, not an LLM. Turns per second, 1 vs 2 replicas.
* **Ingestion**: the same number of queued ingestion jobs (fresh synthetic documents each
  phase, so neither the store's vector reuse nor the Redis embedding cache can help) run on
  one worker process, then on two (``python -m evals.bench.scale worker``, one job at a time
  each, the real local embedding model). Files per second from the first enqueue to the last
  job done, 1 vs 2 workers. Each worker gets ``cpus / workers`` torch threads
  (``OMP_NUM_THREADS``), so two workers share the cores one worker had instead of
  oversubscribing them.

The ratios are ``2-process throughput / 1-process throughput``. The load generator shares the
CPU with the servers; on a 2-core machine both ratios are bounded by the cores, not by the
design (the report records the CPU count).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx

from evals.bench.api import drive
from evals.bench.api_server import bench_servers, child_processes, wait_ready
from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from evals.scratch import recreate_database
from graphs.core.database import Database, ensure_schema
from graphs.core.settings import Settings

SCRATCH_DB = "grace_bench_scale"
_WORDS = [
    "gallery", "wellness", "consultancy", "booking", "ceramics", "sculpture", "canvas",
    "residency", "massage", "yoga", "retreat", "invoice", "quote", "proposal", "workshop",
    "membership", "curator", "studio", "exhibition", "client", "session", "therapist",
    "schedule", "payment", "deposit", "refund", "catalogue", "framing", "lighting", "archive",
]  # fmt: skip


async def _scratch_url(settings: Settings) -> str:
    """A fresh, migrated scratch database on the embedded server, or ``DATABASE_URL`` as it is."""
    url, scratch = await recreate_database(settings, SCRATCH_DB)
    if scratch:
        await asyncio.to_thread(ensure_schema, url)
    return url


def _workers(count: int, env: dict[str, str], logs: Path) -> AbstractContextManager[None]:
    """Start ``count`` queue worker processes for the block."""
    command = [sys.executable, "-m", "evals.bench.scale", "worker"]
    return child_processes([command] * count, env, [logs / f"worker{i}.log" for i in range(count)])


async def _chat_phase(
    urls: Sequence[str], *, clients: int, duration_s: float, warmup_s: float
) -> Scenario:
    run = uuid.uuid4().hex[:8]

    async def call(client: httpx.AsyncClient, user: int, k: int) -> httpx.Response:
        body = {"message": f"Can I move my booking to Friday? ({k})",
                "thread_id": f"scale-{run}-{user}-{k // 5}"}  # fmt: skip
        return await client.post("/v1/chat", json=body)  # client `user` talks to one replica

    res = await drive(urls, call, clients=clients, duration_s=duration_s, warmup_s=warmup_s)
    samples = res.samples if len(res.samples) >= 2 else [0.0, 0.0]
    n = len(urls)
    return Scenario(
        name=f"chat_{n}_replica{'s' if n > 1 else ''}",
        throughput_per_s=round(len(res.samples) / res.elapsed_s, 1),
        latency=LatencySummary.from_seconds(samples),
        params={
            "replicas": n,
            "clients": clients,
            "turns": len(res.samples),
            "errors": res.errors,
            "duration_s": round(res.elapsed_s, 2),
        },
    )


def _corpus(root: Path, tag: str, jobs: int, files: int) -> list[Path]:
    """``jobs`` folders of ``files`` distinct documents (~1.2 KB each), unique to ``tag``."""
    folders = []
    for j in range(jobs):
        folder = root / f"{tag}-{j}"
        folder.mkdir(parents=True)
        for f in range(files):
            seed = j * 1000 + f
            paras = []
            for p in range(4):
                words = [_WORDS[(seed * 7 + p * 13 + w * w) % len(_WORDS)] for w in range(40)]
                paras.append(f"{tag} {seed} {p}: " + " ".join(words) + ".")
            text = f"# Note {tag} {seed}\n\n" + "\n\n".join(paras) + "\n"
            (folder / f"note-{f}.md").write_text(text, encoding="utf-8")
        folders.append(folder)
    return folders


async def _ingest_phase(
    settings: Settings, db: Database, folders: list[Path], workers: int
) -> Scenario:
    from knowledge.ingest import IngestOptions
    from knowledge.queue import create_ingest_job, enqueue_ingest, open_pool, wait_for_job

    ids = [
        await create_ingest_job(db, [f], IngestOptions(collection=f.name, operator="bench"))
        for f in folders
    ]
    pool = await open_pool(settings)
    try:
        t0 = time.perf_counter()
        for jid in ids:
            await enqueue_ingest(settings, jid, db=db, pool=pool)
        records = [await wait_for_job(settings, db, jid, poll_s=0.2) for jid in ids]
        elapsed = time.perf_counter() - t0
    finally:
        await pool.delete(*(f"arq:{k}:{jid}" for jid in ids for k in ("job", "result", "retry")))
        await pool.aclose()
    failed = [r for r in records if r.status != "done" or r.files_failed]
    files = sum(r.files_done for r in records)
    chunks = sum(r.chunks_written for r in records)
    latencies = [
        (r.finished_at - r.created_at).total_seconds() for r in records if r.finished_at is not None
    ]
    return Scenario(
        name=f"ingest_{workers}_worker{'s' if workers > 1 else ''}",
        throughput_per_s=round(files / elapsed, 2),
        latency=LatencySummary.from_seconds(latencies if len(latencies) >= 2 else [0.0, 0.0]),
        params={
            "workers": workers,
            "jobs": len(ids),
            "files": files,
            "chunks": chunks,
            "chunks_per_s": round(chunks / elapsed, 1),
            "failed_jobs": len(failed),
            "elapsed_s": round(elapsed, 2),
            "unit": "files/s",
        },
    )


async def _wait_workers(settings: Settings, count: int, timeout_s: float = 240) -> None:
    """Wait until ``count`` workers announce themselves (``<queue>:bench-ready`` counter)."""
    from redis.asyncio import Redis

    assert settings.redis_url is not None
    client = Redis.from_url(settings.redis_url.get_secret_value())
    deadline = time.monotonic() + timeout_s
    try:
        while int(await client.get(f"{settings.queue_name}:bench-ready") or 0) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} worker(s) did not start")
            await asyncio.sleep(0.3)
    finally:
        await client.delete(f"{settings.queue_name}:bench-ready")
        await client.aclose()


async def run_scale_bench(
    settings: Settings,
    *,
    clients: int = 32,
    duration_s: float = 15.0,
    warmup_s: float = 2.0,
    jobs: int = 8,
    files_per_job: int = 10,
) -> BenchReport:
    """Chat turns/s with 1 vs 2 replicas and ingestion files/s with 1 vs 2 workers.

    Args:
        settings: Needs ``redis_url``; the database is a scratch one (see the module doc).
        clients: Concurrent chat clients (the same in both chat phases).
        duration_s: Measured seconds per chat phase.
        warmup_s: Unmeasured seconds before each chat phase.
        jobs: Ingestion jobs per ingestion phase.
        files_per_job: Documents per job.

    Returns:
        Four scenarios; ``environment`` holds ``chat_ratio_2_vs_1`` and
        ``ingest_ratio_2_vs_1``.

    Raises:
        ValueError: ``redis_url`` is not set.
        TimeoutError: a child process did not start.
    """
    if settings.redis_url is None:
        raise ValueError("grace bench scale needs REDIS_URL (replicas and workers share Redis)")
    redis_dsn = settings.redis_url.get_secret_value()
    run = uuid.uuid4().hex[:8]
    url = await _scratch_url(settings)
    work = Path(tempfile.mkdtemp(prefix="grace-scale-"))
    settings = settings.model_copy(
        update={
            "queue_name": f"grace:bench:{run}",
            "events_stream": f"grace:bench:{run}:ev",
            "cache_prefix": f"grace:bench:{run}:cache:",
        }
    )
    env = {
        **os.environ, "DATABASE_URL": url, "REDIS_URL": redis_dsn,
        "GRACE_QUEUE_NAME": settings.queue_name, "GRACE_EVENTS_STREAM": settings.events_stream,
        "GRACE_CACHE_PREFIX": settings.cache_prefix,
        "GRACE_RATE_LIMIT": "100000000/minute", "GRACE_LOG_LEVEL": "WARNING",
        "GRACE_DB_POOL_MAX_SIZE": "20", "GRACE_DATA_DIR": str(work / "data"),
    }  # fmt: skip
    scenarios: list[Scenario] = []
    db = await Database.connect(settings, url=url)
    try:
        for n in (1, 2):
            with bench_servers(n, env, work) as urls:
                await wait_ready(urls, work)
                scenarios.append(
                    await _chat_phase(
                        urls, clients=clients, duration_s=duration_s, warmup_s=warmup_s
                    )
                )
        for n in (1, 2):
            folders = _corpus(work / "corpus", f"p{n}{run}", jobs, files_per_job)
            threads = max(1, (os.cpu_count() or 1) // n)  # the same cores, split, not oversold
            with _workers(n, env | {"OMP_NUM_THREADS": str(threads)}, work):
                await _wait_workers(settings, n)
                phase = await _ingest_phase(settings, db, folders, n)
            phase.params["torch_threads_per_worker"] = threads
            scenarios.append(phase)
    finally:
        await db.close()
        await _cleanup_redis(settings)
        shutil.rmtree(work, ignore_errors=True)
    by_name = {s.name: s for s in scenarios}
    chat_ratio = _ratio(by_name["chat_2_replicas"], by_name["chat_1_replica"])
    ingest_ratio = _ratio(by_name["ingest_2_workers"], by_name["ingest_1_worker"])
    by_name["chat_2_replicas"].params["ratio_vs_1"] = chat_ratio
    by_name["ingest_2_workers"].params["ratio_vs_1"] = ingest_ratio
    env_facts = machine_facts() | {
        "chat_ratio_2_vs_1": chat_ratio,
        "ingest_ratio_2_vs_1": ingest_ratio,
        "llm": "instant fake (chat), none (ingest)",
        "embedder": settings.embedding_model,
        "database": "embedded" if settings.uses_embedded_database else "DATABASE_URL",
        "server": "separate processes on loopback (uvicorn), arq workers",
    }
    return BenchReport(benchmark="scale", scenarios=scenarios, environment=env_facts)


def _ratio(two: Scenario, one: Scenario) -> float:
    return round(two.throughput_per_s / one.throughput_per_s, 2) if one.throughput_per_s else 0.0


async def _cleanup_redis(settings: Settings) -> None:
    from redis.asyncio import Redis

    assert settings.redis_url is not None
    client = Redis.from_url(settings.redis_url.get_secret_value())
    try:
        keys = [k async for k in client.scan_iter(match=f"{settings.queue_name}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


# ------------------------------------------------------------------ child processes


def _worker() -> None:
    """One arq worker, one job at a time, that announces itself once its model is loaded."""
    from arq.worker import Worker

    from graphs.core.settings import get_settings
    from knowledge.worker import startup, worker_options

    settings = get_settings()

    async def ready(ctx: dict[str, Any]) -> None:
        await startup(ctx)
        await ctx["redis"].incr(f"{settings.queue_name}:bench-ready")

    options = worker_options(settings, max_jobs=1, poll_delay_s=0.05)
    options["on_startup"] = ready
    asyncio.set_event_loop(asyncio.new_event_loop())
    Worker(**options).run()


if __name__ == "__main__":
    _worker()
