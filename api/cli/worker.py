"""``grace worker``: consume the Redis job queue (ingestion jobs) until stopped."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.console import EXIT_UNAVAILABLE, console, err_console
from graphs.core.settings import get_settings


def worker(
    burst: Annotated[
        bool, typer.Option("--burst", help="Stop once the queue is empty (one-off runs, tests).")
    ] = False,
    max_jobs: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once.")] = 4,
) -> None:
    """Run queued jobs (ingestion) from Redis; start as many workers as you like.

    Needs REDIS_URL (and the same DATABASE_URL as the API). Retries failed jobs with backoff
    and moves jobs that exhaust GRACE_JOB_MAX_TRIES to the dead-letter list; a worker that
    dies mid-job leaves the job to be taken over by another one.
    """
    import asyncio

    from arq.worker import Worker

    from knowledge.worker import worker_options

    settings = get_settings()
    if settings.redis_url is None:
        err_console.print(
            "[bold red]No queue:[/] REDIS_URL is not set. Without Redis, `grace ingest` runs "
            "jobs in-process and no worker is needed; set REDIS_URL=redis://host:6379/0 to "
            "use workers."
        )
        raise typer.Exit(EXIT_UNAVAILABLE)
    options = worker_options(settings, burst=burst, max_jobs=max_jobs)
    console.print(
        f"Worker on queue [bold]{settings.queue_name}[/]"
        f"{' (burst: stops when the queue is empty)' if burst else ''}. Ctrl-C stops it."
    )
    asyncio.set_event_loop(asyncio.new_event_loop())
    Worker(**options).run()
