"""The starter corpus: the shipped handbook, loaded into an empty knowledge base on first start.

A fresh ``grace serve`` would otherwise answer every policy question with "I don't know" until
someone ran ``grace ingest``. :func:`load_starter_corpus` ingests ``knowledge/corpus`` (the
handbook and the workflow articles ``grace demo`` loads) into the ``handbook`` collection, but
only when the knowledge base holds no document at all, in any state: a deployment that archived
or replaced the handbook never gets it back. ``GRACE_LOAD_STARTER_CORPUS=false`` turns it off.
Two processes starting at once do not both load it: the first takes a PostgreSQL advisory
lock, the other skips.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from graphs.core.database import Database
    from graphs.core.events import EventBus
    from graphs.core.settings import Settings
    from knowledge.embedding.base import Embedder
    from knowledge.jobs import JobRecord

#: Collection the starter corpus joins (the one ``grace demo`` uses).
STARTER_COLLECTION = "handbook"
#: Operator recorded on the documents' approval steps.
STARTER_OPERATOR = "starter-corpus"
#: Advisory-lock key held while the corpus loads (an arbitrary, fixed 64-bit value).
_LOCK_KEY = 0x6772616365_0001

log = structlog.get_logger(__name__)


def starter_corpus_dir() -> Path:
    """The shipped corpus directory (package data of ``knowledge``)."""
    return Path(str(resources.files("knowledge") / "corpus"))


async def knowledge_base_is_empty(db: Database) -> bool:
    """True when ``kb_documents`` holds no row (no document in any state)."""
    async with db.connection() as conn:
        cur = await conn.execute("SELECT NOT EXISTS (SELECT 1 FROM kb_documents)")
        row = await cur.fetchone()
    return bool(row and row[0])


async def load_starter_corpus(
    db: Database,
    embedder: Embedder,
    *,
    settings: Settings | None = None,
    bus: EventBus | None = None,
) -> JobRecord | None:
    """Ingest the starter corpus if the knowledge base is empty.

    The job is created and run like every other (:func:`knowledge.queue.create_ingest_job`,
    :func:`knowledge.queue.run_ingest`), always in-process: it must be served before the first
    request, whether or not a worker runs.

    Args:
        db: The application database (migrated).
        embedder: The process embedder (the one retrieval uses).
        settings: Settings for the retrieval-cache invalidation (default: the process's).
        bus: Where ``job.progress`` / ``job.finished`` go (None: not published).

    Returns:
        The ingestion job, or None when nothing was loaded (documents exist, or another
        process holds the lock and is loading it).

    Raises:
        psycopg.Error: the database failed (the caller logs it; serving goes on).
    """
    from graphs.core.settings import get_settings
    from knowledge.ingest import IngestOptions
    from knowledge.queue import create_ingest_job, run_ingest

    if not await knowledge_base_is_empty(db):
        return None
    async with db.connection() as conn:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,))
        row = await cur.fetchone()
        if not (row and row[0]):
            return None
        try:
            if not await knowledge_base_is_empty(db):  # loaded while we waited for the lock
                return None
            corpus = starter_corpus_dir()
            log.warning(
                "starter_corpus_loading",
                path=str(corpus),
                collection=STARTER_COLLECTION,
                note="empty knowledge base; GRACE_LOAD_STARTER_CORPUS=false turns this off",
            )
            options = IngestOptions(collection=STARTER_COLLECTION, operator=STARTER_OPERATOR)
            job_id = await create_ingest_job(db, [corpus], options)
            job = await run_ingest(settings or get_settings(), db, embedder, job_id, bus=bus)
            log.warning(
                "starter_corpus_loaded",
                files=job.files_done,
                chunks=job.chunks_written,
                collection=STARTER_COLLECTION,
            )
            return job
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
