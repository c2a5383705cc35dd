"""The arq worker: runs queued ingestion jobs by id against the database.

It sits beside the queue (:mod:`knowledge.queue`) it consumes; ``grace worker``
(``api/cli/worker.py``) starts it.

``grace worker`` builds a :class:`arq.worker.Worker` from :func:`worker_options` (our
"WorkerSettings", built from the settings object at start rather than at import). One job =
one ``kb_ingest_jobs`` row (:func:`knowledge.queue.run_ingest`).

Failure handling:

* A try that raises is retried with exponential backoff (``backoff_base_s * 2**(try-1)``,
  at most :data:`MAX_BACKOFF_S`) until ``settings.job_max_tries`` tries have failed; the row
  goes back to ``queued`` with the error in between. The last failure dead-letters the job
  (``<queue_name>:dead``) and marks the row ``failed``.
* A worker killed mid-job: each file is written in its own transaction, so the database holds
  whole files only. The job keeps its place in the queue, held by a lease
  (``settings.job_lease_s``) that the running worker renews every third of it; once the lease
  lapses another worker takes the job over, resets the row's counters and runs it again —
  files committed before the kill are unchanged and skipped, so no chunk is written twice. A
  job whose last allowed try was killed is dead-lettered by the worker that finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from arq import Retry
from arq.constants import in_progress_key_prefix
from arq.worker import func

from graphs.core.events import Event, RedisEventBus
from graphs.core.settings import Settings, get_settings
from knowledge.jobs import JobNotFoundError, JobRepository
from knowledge.queue import INGEST_FUNCTION, mark_dead, run_ingest

if TYPE_CHECKING:
    from arq.connections import ArqRedis

log = structlog.get_logger(__name__)

#: Longest single job, seconds (a large corpus on CPU; arq cancels a job running longer).
JOB_TIMEOUT_S = 6 * 3600
#: Longest wait between two tries, seconds.
MAX_BACKOFF_S = 300.0
#: First retry delay, seconds (then doubled per try).
DEFAULT_BACKOFF_BASE_S = 2.0
#: How often a worker refreshes ``<queue_name>:health-check`` in Redis, seconds.
HEALTH_CHECK_S = 30
#: How long job results (success or failure) stay visible in the queue, seconds.
KEEP_RESULT_S = 7 * 24 * 3600


def backoff_s(job_try: int, base_s: float = DEFAULT_BACKOFF_BASE_S) -> float:
    """Delay before try ``job_try + 1``: ``base_s * 2**(job_try-1)``, capped at 300 s."""
    return float(min(MAX_BACKOFF_S, base_s * 2 ** max(0, job_try - 1)))


async def ingest_job(ctx: dict[str, Any], job_id: str) -> dict[str, Any]:
    """Run ingestion job ``job_id``; the arq function (failures: see the module docstring).

    Returns:
        The finished job (``JobRecord.to_dict()``), or ``{"job_id", "status"}`` when it was
        dead-lettered or no longer exists.

    Raises:
        arq.Retry: The try failed and tries remain.
        Exception: The last allowed try failed (the job is dead-lettered first).
    """
    settings: Settings = ctx["settings"]
    redis: ArqRedis = ctx["redis"]
    tries, max_tries = int(ctx["job_try"]), settings.job_max_tries
    jid = UUID(job_id)
    if tries > max_tries:  # the previous, last allowed try died with its worker
        await _dead(ctx, jid, tries - 1, "the worker running the last try was lost")
        return {"job_id": job_id, "status": "dead"}
    lease = asyncio.create_task(_hold_lease(redis, job_id, settings.job_lease_s))
    try:
        record = await run_ingest(settings, ctx["db"], ctx["embedder"], jid, bus=ctx["bus"])
    except JobNotFoundError:
        log.warning("job_not_found", job_id=job_id)
        return {"job_id": job_id, "status": "not_found"}
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if tries < max_tries:
            delay = backoff_s(tries, float(ctx.get("backoff_base_s", DEFAULT_BACKOFF_BASE_S)))
            log.warning("job_retrying", job_id=job_id, job_try=tries, in_s=delay, error=error)
            with contextlib.suppress(Exception):  # the database may be what failed
                await JobRepository(ctx["db"]).mark_retrying(
                    jid, f"try {tries} of {max_tries} failed: {error}"
                )
            raise Retry(defer=delay) from exc
        await _dead(ctx, jid, tries, error)
        raise
    finally:
        lease.cancel()
    return record.to_dict()


async def _dead(ctx: dict[str, Any], jid: UUID, tries: int, error: str) -> None:
    try:
        await mark_dead(ctx["settings"], ctx["db"], ctx["redis"], jid, tries=tries, error=error)
    except Exception as exc:  # still report the dead job on the bus
        log.error("dead_letter_failed", job_id=str(jid), error=str(exc))
    await ctx["bus"].publish(
        Event(type="job.finished", data={"job_id": str(jid), "status": "dead", "error": error})
    )


async def _hold_lease(redis: ArqRedis, job_id: str, lease_s: float) -> None:
    """Keep arq's in-progress key alive for ``lease_s`` past now, renewed every third of it."""
    key, ms = in_progress_key_prefix + job_id, max(1, int(lease_s * 1000))
    while True:
        with contextlib.suppress(Exception):
            await redis.pexpire(key, ms)
        await asyncio.sleep(lease_s / 3)


async def startup(ctx: dict[str, Any]) -> None:
    """Open the database, load the embedder and attach the event bus (unless given in ctx)."""
    from graphs.core.database import Database

    if "settings" not in ctx:
        ctx["settings"] = get_settings()
    settings: Settings = ctx["settings"]
    if "db" not in ctx:
        ctx["db"] = await Database.connect(settings)
        ctx["own_db"] = True
    if "embedder" not in ctx:
        from knowledge.embedding.factory import get_default_embedder

        embedder = get_default_embedder(settings)
        await asyncio.to_thread(embedder.embed_query, "warm up")
        ctx["embedder"] = embedder
    ctx.setdefault("bus", RedisEventBus(ctx["redis"], stream=settings.events_stream))
    log.info("worker_started", queue=settings.queue_name)


async def shutdown(ctx: dict[str, Any]) -> None:
    """Close what :func:`startup` opened."""
    if ctx.pop("own_db", False):
        await ctx["db"].close()


def worker_options(
    settings: Settings,
    *,
    burst: bool = False,
    ctx: dict[str, Any] | None = None,
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
    handle_signals: bool = True,
    poll_delay_s: float = 0.5,
    max_jobs: int = 4,
) -> dict[str, Any]:
    """Keyword arguments of :class:`arq.worker.Worker` for our queue.

    Args:
        settings: Uses ``redis_url``, ``queue_name``, ``job_max_tries`` and ``job_lease_s``.
        burst: Stop when the queue is empty (tests, one-off runs).
        ctx: Pre-built context entries (``db``, ``embedder``, ``bus``) to use instead of
            opening them at startup (tests).
        backoff_base_s: First retry delay.
        handle_signals: Install SIGINT/SIGTERM handlers (off when embedded in another loop).
        poll_delay_s: Seconds between two polls of an idle queue.
        max_jobs: Jobs run at once by this worker (each is I/O and thread bound).

    Raises:
        ValueError: ``redis_url`` is not set.
    """
    from arq.connections import RedisSettings

    if settings.redis_url is None:
        raise ValueError("REDIS_URL is not set: the worker needs Redis")
    return {
        # One try more than allowed, so a job whose last try was killed reaches ingest_job,
        # which dead-letters it (arq alone would only drop it).
        "functions": [
            func(
                ingest_job,
                name=INGEST_FUNCTION,
                max_tries=settings.job_max_tries + 1,
                timeout=JOB_TIMEOUT_S,
            )
        ],
        "redis_settings": RedisSettings.from_dsn(settings.redis_url.get_secret_value()),
        "queue_name": settings.queue_name,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "burst": burst,
        "ctx": {"settings": settings, "backoff_base_s": backoff_base_s, **(ctx or {})},
        "handle_signals": handle_signals,
        "keep_result": KEEP_RESULT_S,
        "poll_delay": poll_delay_s,
        "max_jobs": max_jobs,
        # <queue_name>:health-check exists while some worker is alive (compose health check).
        "health_check_interval": HEALTH_CHECK_S,
    }
