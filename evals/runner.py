"""``grace eval run``: open one database and runtime, run the chosen suites, build the report.

Where it runs: with the embedded server, a scratch database ``grace_eval`` is created (migrated,
the starter corpus ingested) and dropped at the end, so a run never touches the user's data and
always starts from the same state. With ``DATABASE_URL`` the run uses that database (point it at
a dedicated one: the suites add workflow cases, escalations and an ``eval-poison`` collection,
which is deleted at the end).

The embedding model and the router load once; suites run one after another (injection last,
because it adds poisoned documents to the knowledge base), cases inside a suite in parallel where
they do not share state.
"""

from __future__ import annotations

import asyncio
import importlib
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.report import EvalReport
from evals.scratch import drop_database, recreate_database
from evals.suites.base import EvalContext, ProgressFn, SuiteResult
from graphs.core.database import Database, ensure_schema
from graphs.core.settings import Settings

#: Every suite, in the order they run.
SUITES: tuple[str, ...] = (
    "routing",
    "escalation",
    "triage",
    "retrieval",
    "answers",
    "atlas",
    "compliance",
    "playbooks",
    "injection",
)
#: Suites that need the starter corpus in the knowledge base.
NEEDS_CORPUS = frozenset({"escalation", "retrieval", "answers", "injection"})
#: Scratch database on the embedded server (dropped after the run).
SCRATCH_DATABASE = "grace_eval"
#: Collection the starter corpus is ingested into.
CORPUS_COLLECTION = "handbook"
CORPUS_DIR = Path(__file__).resolve().parents[1] / "knowledge" / "corpus"
Provider = str


class UnknownSuiteError(ValueError):
    """A suite name that is not one of :data:`SUITES`."""


def select(names: Sequence[str]) -> list[str]:
    """The suites to run, in :data:`SUITES` order (all when ``names`` is empty).

    Raises:
        UnknownSuiteError: a name is not a suite.
    """
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise UnknownSuiteError(
            f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}"
        )
    return [s for s in SUITES if not names or s in names]


async def scratch_database(settings: Settings, name: str = SCRATCH_DATABASE) -> tuple[str, bool]:
    """A fresh, migrated database: ``name`` on the embedded server, or ``DATABASE_URL``.

    Returns:
        ``(url, is_scratch)``; a scratch database is dropped by :func:`drop_scratch`.
    """
    url, scratch = await recreate_database(settings, name)
    await asyncio.to_thread(ensure_schema, url)
    return url, scratch


async def drop_scratch(url: str, name: str = SCRATCH_DATABASE) -> None:
    """Drop the scratch database ``url`` points into."""
    await drop_database(url, name)


async def ingest_corpus(db: Database, embedder: Any) -> int:
    """Ingest the starter corpus (idempotent); returns the number of files processed.

    Raises:
        RuntimeError: a corpus file failed to ingest.
    """
    from knowledge.ingest import IngestOptions, Ingestor

    job = await Ingestor(db, embedder).ingest(
        [CORPUS_DIR], IngestOptions(collection=CORPUS_COLLECTION, operator="eval")
    )
    if job.files_failed:
        raise RuntimeError(f"{job.files_failed} corpus file(s) failed to ingest")
    return int(job.files_done)


async def run_eval(
    settings: Settings,
    suites: Sequence[str] = (),
    *,
    provider: Provider = "offline",
    k: int = 1,
    limit: int | None = None,
    concurrency: int = 4,
    progress: ProgressFn | None = None,
    embedder: Any = None,
    router: Any = None,
) -> EvalReport:
    """Run ``suites`` and return the report.

    Args:
        settings: Process settings (database target, models).
        suites: Suite names (all when empty).
        provider: ``offline`` (no language model), ``openai`` or ``anthropic``.
        k: Runs per case (pass^k).
        limit: Only the first ``limit`` cases of each dataset.
        concurrency: Cases at once inside a suite, where safe.
        progress: ``progress(label, done, total)``.
        embedder: Use this embedder (default: the process-wide one from settings).
        router: Use this first-stage router (default: the runtime's own ``LocalRouter``).

    Raises:
        UnknownSuiteError: a suite name is wrong.
        DatabaseUnavailableError: the database cannot be reached.
        ProviderConfigurationError: the provider's API key is not configured.
    """
    from graphs.runtime import GraceRuntime
    from knowledge.embedding.factory import get_default_embedder

    names = select(suites)
    if k < 1:
        raise ValueError("k must be >= 1")
    settings = settings.model_copy(
        update={"llm_provider": provider, "db_pool_min_size": 1, "db_pool_max_size": 8}
    )
    model = None
    if provider != "offline":
        from agents.llm.providers import make_chat_model

        model = make_chat_model(settings)
    started = datetime.now(UTC)
    url, scratch = await scratch_database(settings)
    db = await Database.connect(settings, url=url)
    results: list[SuiteResult] = []
    try:
        if progress is not None:
            progress("loading models", 0, 1)
        embedder = embedder or get_default_embedder(settings)
        runtime = await GraceRuntime.open(
            settings, db=db, model=model, embedder=embedder, router=router
        )
        if progress is not None:
            progress("loading models", 1, 1)
        ctx = EvalContext(
            settings=settings,
            db=db,
            embedder=embedder,
            runtime=runtime,
            provider=provider,
            model=model,
            k=k,
            limit=limit,
            concurrency=concurrency,
            progress=progress,
            judge=model,
        )
        try:
            if NEEDS_CORPUS & set(names):
                if progress is not None:
                    progress("ingesting the starter corpus", 0, 1)
                await ingest_corpus(db, embedder)
                if progress is not None:
                    progress("ingesting the starter corpus", 1, 1)
            for name in names:
                module = importlib.import_module(f"evals.suites.{name}")
                results.append(await module.run(ctx))
        finally:
            await ctx.close_extra()
            await runtime.close()
    finally:
        await db.close()
        if scratch:
            await drop_scratch(url)
    return EvalReport(
        started_at=started.isoformat(timespec="seconds"),
        provider=provider,
        k=k,
        limit=limit,
        database="embedded (scratch)" if scratch else "DATABASE_URL",
        environment={
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": _cpus(),
            "embedding_model": str(getattr(settings, "embedding_model", "")),
        },
        suites={r.suite: r for r in results},
    )


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
