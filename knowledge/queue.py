"""Queued ingestion: jobs go through an arq queue on Redis, or run in-process without it.

Why arq (not Celery): it is asyncio-native like the rest of the product (async psycopg, async
ingestion), so a job runs the same coroutine the CLI runs, without a second sync code path or
an event loop per task; it is small (one dependency, redis-py); it retries with a deferral
(``Retry(defer=…)``, giving exponential backoff) and keeps job state and results in Redis, so
``grace knowledge jobs`` and the API can show queue status without a result backend.

The row in ``kb_ingest_jobs`` stays the record of a job; the queue only carries its id.
Statuses shown to people (:data:`QueueStatus`): ``queued`` (waiting, or waiting for a retry),
``running``, ``done``, ``failed`` and ``dead`` (tries exhausted: in the dead-letter list
``<queue_name>:dead``).

One path for every entry point: ``grace ingest``, ``POST /v1/knowledge/ingest`` and
``knowledge.ingest`` webhooks record the job with :func:`create_ingest_job` and run it with
:func:`enqueue_ingest` — queued on Redis for ``grace worker`` (:mod:`knowledge.worker`), or,
without Redis, in-process. Both runs go through :func:`run_ingest` and have the same side
effects: counters reset, ``job.progress`` / ``job.finished`` events, retrieval-cache
invalidation. The job SQL is :class:`knowledge.jobs.JobRepository`'s.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import structlog

from graphs.core.events import Event, EventBus
from knowledge.jobs import JobRecord, JobRepository

if TYPE_CHECKING:
    import psycopg
    from arq.connections import ArqRedis

    from graphs.core.database import Database
    from graphs.core.settings import Settings
    from knowledge.embedding.base import Embedder
    from knowledge.ingest import FileResult, IngestOptions, ProgressFn

log = structlog.get_logger(__name__)

#: Name of the arq function that runs an ingestion job (:mod:`knowledge.worker`).
INGEST_FUNCTION = "ingest_job"
#: Dead-letter entries kept per queue (oldest dropped beyond it).
DEAD_LETTER_CAP = 1_000

QueueStatus = Literal["queued", "running", "done", "failed", "dead"]


@dataclass(frozen=True)
class Enqueued:
    """What :func:`enqueue_ingest` did.

    Attributes:
        job_id: The ``kb_ingest_jobs`` id.
        queued: True when the job went to the Redis queue (a worker runs it); False when it
            ran in-process (``record`` is then its final state).
        record: The finished job when it ran in-process.
    """

    job_id: UUID
    queued: bool
    record: JobRecord | None = None


def dead_letter_key(queue_name: str) -> str:
    """The Redis list of jobs that exhausted their tries."""
    return f"{queue_name}:dead"


async def create_ingest_job(
    db: Database,
    paths: Sequence[str | Path],
    options: IngestOptions,
    *,
    extra_params: Mapping[str, Any] | None = None,
    conn: psycopg.AsyncConnection[Any] | None = None,
) -> UUID:
    """Record a ``queued`` ingestion job: the one way every entry point creates a job.

    ``grace ingest``, ``POST /v1/knowledge/ingest`` and ``knowledge.ingest`` webhooks all call
    it; :func:`enqueue_ingest` then runs the job. No model is needed. The paths are resolved
    here; the worker reads the same paths, so in a multi-host deployment they must be on a
    volume every worker mounts at the same place.

    Args:
        db: The application database.
        paths: Files or folders to ingest.
        options: Collection, chunker settings, operator, roots, reactivation.
        extra_params: Informational entries added to the job's ``params`` (e.g. the webhook
            delivery); they never override the chunker settings of ``options``.
        conn: Record the job inside this connection's transaction (a webhook's delivery
            record); a pooled connection of its own otherwise.

    Returns:
        The new job's id.
    """
    from knowledge.ingest import job_params
    from knowledge.sources import normalise_spec  # supabase:// URIs are kept as URIs

    return await JobRepository(db).create(
        paths=[normalise_spec(p) for p in paths],
        collection=options.collection,
        chunker=options.chunker,
        operator=options.operator,
        params={**(extra_params or {}), **job_params(options)},
        conn=conn,
    )


async def enqueue_ingest(
    settings: Settings,
    job_id: UUID,
    *,
    db: Database,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    pool: ArqRedis | None = None,
    fallback: bool = True,
) -> Enqueued:
    """Run job ``job_id``: the one runner of every entry point (CLI, API, webhooks).

    With Redis configured the job is queued for a ``grace worker`` (:mod:`knowledge.worker`);
    without, it runs here through :func:`run_ingest`, with the same side effects a worker's
    run has (counters reset, ``job.progress``/``job.finished`` events, cache invalidation).

    With Redis configured but unreachable, the job runs here too (``fallback``; logged), so
    an ingest is never stranded in a queue nobody can read.

    Args:
        settings: Uses ``redis_url`` and ``queue_name``.
        job_id: A ``queued`` row of ``kb_ingest_jobs`` (:func:`create_ingest_job`).
        db: The application database (in-process run).
        embedder: For the in-process run (default: the process-wide embedder).
        progress: Per-file callback of the in-process run.
        pool: An open arq pool to reuse (default: one is opened and closed for this call).
        fallback: Run in-process when Redis is unreachable (False: raise instead).

    Returns:
        Whether it was queued, or the finished record.

    Raises:
        redis.exceptions.RedisError: Redis is unreachable and ``fallback`` is False (the job
            row stays ``queued``; enqueue it again later).
        knowledge.jobs.JobNotFoundError: In-process run of an unknown job.
    """
    if settings.redis_url is not None:
        from redis.exceptions import RedisError

        try:
            await _enqueue(settings, job_id, pool)
        except (RedisError, OSError) as exc:
            if not fallback:
                raise
            log.warning("queue_unavailable", job_id=str(job_id), error=str(exc),
                        action="running the job in-process")  # fmt: skip
        else:
            return Enqueued(job_id, queued=True)
    if embedder is None:
        from knowledge.embedding.factory import get_default_embedder

        embedder = get_default_embedder(settings)
    from graphs.core.events import get_event_bus

    record = await run_ingest(
        settings, db, embedder, job_id, bus=get_event_bus(settings), progress=progress
    )
    return Enqueued(job_id, queued=False, record=record)


async def _enqueue(settings: Settings, job_id: UUID, pool: ArqRedis | None) -> None:
    own = pool is None
    arq = pool or await open_pool(settings)
    try:
        await arq.enqueue_job(
            INGEST_FUNCTION, str(job_id), _job_id=str(job_id), _queue_name=settings.queue_name
        )
    finally:
        if own:
            await arq.aclose()


async def open_pool(settings: Settings) -> ArqRedis:
    """An arq Redis pool on ``settings.redis_url`` (caller closes it with ``aclose()``).

    Raises:
        ValueError: ``redis_url`` is not set.
    """
    from arq.connections import RedisSettings, create_pool

    if settings.redis_url is None:
        raise ValueError("REDIS_URL is not set")
    return await create_pool(
        RedisSettings.from_dsn(settings.redis_url.get_secret_value()),
        default_queue_name=settings.queue_name,
    )


async def run_ingest(
    settings: Settings,
    db: Database,
    embedder: Embedder,
    job_id: UUID,
    *,
    bus: EventBus | None = None,
    progress: ProgressFn | None = None,
) -> JobRecord:
    """Run one ingestion job by id: the work a worker (or the in-process path) does.

    The job's counters restart from zero, so a job taken over after a crash reports one clean
    run; files its earlier run already committed are unchanged now and count as skipped.
    Publishes ``job.progress`` per file and ``job.finished`` at the end (when ``bus`` is given)
    and invalidates the retrieval cache of the job's collection.

    Raises:
        knowledge.jobs.JobNotFoundError: unknown job.
        Exception: Whatever broke the run (the row is then ``failed``; the worker decides
            whether to retry).
    """
    from knowledge.ingest import Ingestor
    from knowledge.retrieval_cache import invalidate_collection

    jobs = JobRepository(db)
    job = await jobs.get(job_id)
    await jobs.reset(job_id)
    pending: set[asyncio.Task[Any]] = set()

    def on_file(result: FileResult, done: int, total: int) -> None:
        if progress is not None:
            progress(result, done, total)
        if bus is not None:
            data = {"job_id": str(job_id), "done": done, "total": total,
                    "source": result.source, "outcome": result.outcome}  # fmt: skip
            task = asyncio.get_running_loop().create_task(
                bus.publish(Event(type="job.progress", data=data))
            )
            pending.add(task)
            task.add_done_callback(pending.discard)

    try:
        record = await Ingestor(db, embedder, settings=settings).run_job(job_id, progress=on_file)
    finally:
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await invalidate_collection(settings, db, job.collection)
    if bus is not None:
        await bus.publish(Event(type="job.finished", data=record.to_dict()))
    return record


async def mark_dead(
    settings: Settings, db: Database, redis: Any, job_id: UUID, *, tries: int, error: str
) -> None:
    """Dead-letter a job: push it on ``<queue_name>:dead`` and mark its row ``failed``.

    Args:
        settings: Uses ``queue_name``.
        db: The application database.
        redis: An asyncio Redis client (the worker's arq pool).
        job_id: The ``kb_ingest_jobs`` id.
        tries: Tries made.
        error: The last try's error.
    """
    entry = json.dumps({"job_id": str(job_id), "tries": tries, "error": error, "ts": time.time()})
    key = dead_letter_key(settings.queue_name)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, entry)
        pipe.ltrim(key, 0, DEAD_LETTER_CAP - 1)
        await pipe.execute()
    await JobRepository(db).mark_dead(job_id, tries=tries, error=error)
    log.error("job_dead_lettered", job_id=str(job_id), tries=tries, error=error)


async def dead_letters(settings: Settings, redis: Any) -> list[dict[str, Any]]:
    """Entries of the dead-letter list, newest first."""
    raw = await redis.lrange(dead_letter_key(settings.queue_name), 0, -1)
    return [json.loads(r) for r in raw]


async def queue_statuses(settings: Settings, job_ids: Sequence[UUID]) -> dict[UUID, QueueStatus]:
    """The queue's view of each job (jobs the queue never saw are left out).

    Returns an empty dict when Redis is not configured.

    Raises:
        redis.exceptions.RedisError: Redis is configured but unreachable.
    """
    from arq.jobs import Job, JobStatus

    if settings.redis_url is None or not job_ids:
        return {}
    pool = await open_pool(settings)
    try:
        dead = {d["job_id"] for d in await dead_letters(settings, pool)}
        out: dict[UUID, QueueStatus] = {}
        for jid in job_ids:
            if str(jid) in dead:
                out[jid] = "dead"
                continue
            job = Job(str(jid), pool, _queue_name=settings.queue_name)
            status = await job.status()
            if status in (JobStatus.queued, JobStatus.deferred):
                out[jid] = "queued"
            elif status == JobStatus.in_progress:
                out[jid] = "running"
            elif status == JobStatus.complete:
                info = await job.result_info()
                out[jid] = "done" if info is not None and info.success else "failed"
        return out
    finally:
        await pool.aclose()


async def wait_for_job(
    settings: Settings,
    db: Database,
    job_id: UUID,
    *,
    on_update: Callable[[JobRecord], None] | None = None,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
) -> JobRecord:
    """Follow a queued job until it is ``done``, or ``failed`` with no retry pending.

    A ``failed`` row whose job the queue still holds (a retry is coming) is followed on.

    Args:
        settings: Uses ``redis_url`` and ``queue_name`` (queue status of failed rows).
        db: The application database.
        job_id: The ``kb_ingest_jobs`` id.
        on_update: Called with the row after every poll (progress bars).
        poll_s: Seconds between two reads of the row.
        timeout_s: Give up after this many seconds (None: wait as long as it takes).

    Raises:
        TimeoutError: ``timeout_s`` passed first.
    """
    repo = JobRepository(db)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        record = await repo.get(job_id)
        if on_update is not None:
            on_update(record)
        if record.status == "done":
            return record
        if record.status == "failed":
            status = (await queue_statuses(settings, [job_id])).get(job_id)
            if status not in ("queued", "running"):
                return record
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {record.status} after {timeout_s} s")
        await asyncio.sleep(poll_s)
