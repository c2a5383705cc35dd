"""Ingesting ``supabase://`` sources on real PostgreSQL + pgvector, Storage behind respx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx
from pydantic import SecretStr

from agents.testing import HashingEmbedder
from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.workflows.engine import WorkflowEngine
from knowledge.documents import DocumentRepository
from knowledge.ingest import IngestOptions, Ingestor
from knowledge.lifecycle import ARCHIVED_REFUSAL
from knowledge.retriever import RetrievalConfig, Retriever
from knowledge.store.pgvector import PgVectorStore
from tests.fakes.supabase_storage import KEY, URL, FakeStorage

pytestmark = pytest.mark.integration

REFUNDS = b"""# Refunds

## Wellness sessions

Deposits for wellness sessions are refunded in full when you cancel more than 36 hours ahead.
"""
PRIVACY = b"Client records are kept for seven years and can be exported on request."
OPTS = IngestOptions(collection="handbook", chunker="paragraph", chunk_size=300, operator="ana")
SETTINGS = Settings(supabase_url=URL, supabase_key=SecretStr(KEY))


@pytest.fixture
def fake() -> Iterator[FakeStorage]:
    storage = FakeStorage(
        {"kb": {"handbook/refunds.md": REFUNDS, "handbook/policies/privacy.txt": PRIVACY,
                "handbook/broken.pdf": b"%PDF-1.4 not really a pdf"}}
    )  # fmt: skip
    with respx.mock(assert_all_called=False) as mock:
        storage.install(mock)
        yield storage


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dimension=1024)


@pytest.fixture
def ingestor(db: Database, embedder: HashingEmbedder) -> Ingestor:
    return Ingestor(db, embedder, settings=SETTINGS)


async def test_supabase_prefix_ingests_through_the_kb_workflow_and_is_idempotent(
    db: Database, ingestor: Ingestor, embedder: HashingEmbedder, fake: FakeStorage
) -> None:
    job = await ingestor.ingest(["supabase://kb/handbook/", "supabase://missing/x"], OPTS)
    assert job.paths == ["supabase://kb/handbook", "supabase://missing/x"]
    assert (job.files_total, job.files_done, job.files_failed) == (4, 2, 2)
    errors = {e["source"]: e["error"] for e in job.errors}
    assert "cannot parse PDF" in errors["supabase://kb/handbook/broken.pdf"]
    assert "Bucket not found" in errors["supabase://missing/x"]

    engine = WorkflowEngine(db)
    repo = DocumentRepository(db, engine)
    docs = {d.source: d for d in await repo.list(collection="handbook")}
    assert set(docs) == {"supabase://kb/handbook/refunds.md",
                         "supabase://kb/handbook/policies/privacy.txt"}  # fmt: skip
    refunds = docs["supabase://kb/handbook/refunds.md"]
    assert refunds.title == "Refunds" and refunds.state == "active"
    history = await engine.history(refunds.workflow_instance_id)  # type: ignore[arg-type]
    steps = [(h.event, h.actor) for h in history]
    assert steps[0] == ("start", "human:ana")
    assert ("topic_approved", "human:ana") in steps and ("expert_approved", "human:ana") in steps
    assert steps[-1] == ("embeddings_created", "atlas")

    retriever = Retriever(PgVectorStore(db), embedder, RetrievalConfig(threshold=0.0))
    hits = await retriever.retrieve("refund for wellness session deposits", k=3)
    assert hits[0].citation.source == "supabase://kb/handbook/refunds.md"

    # second run: every object downloaded again, nothing written, nothing embedded
    embedder.calls.clear()
    again = await ingestor.ingest(["supabase://kb/handbook"], OPTS)
    assert (again.files_done, again.files_skipped, again.chunks_written) == (0, 2, 0)
    assert embedder.calls == []
    after = {d.source: d for d in await repo.list(collection="handbook")}
    assert after[refunds.source].workflow_instance_id == refunds.workflow_instance_id

    # a changed object is updated in place (same document, a new version of its chunks)
    fake.buckets["kb"]["handbook/refunds.md"] = REFUNDS.replace(b"36 hours", b"48 hours")
    changed = await ingestor.ingest(["supabase://kb/handbook/refunds.md"], OPTS)
    assert (changed.files_done, changed.files_skipped) == (1, 0)
    hits = await retriever.retrieve("refund for wellness session deposits", k=3)
    assert "48 hours" in hits[0].text

    # archived: never served, and re-ingesting the object is refused (staff decision)
    await repo.archive(refunds.id, operator="ana", reason="superseded")
    hits = await retriever.retrieve("refund for wellness session deposits", k=10)
    assert all(p.citation.source != refunds.source for p in hits)
    kept = await ingestor.ingest(["supabase://kb/handbook/refunds.md"], OPTS)
    assert kept.files_failed == 1 and kept.errors[0]["error"] == ARCHIVED_REFUSAL


async def test_missing_object_and_unconfigured_storage_are_reported_per_file(
    db: Database, embedder: HashingEmbedder, fake: FakeStorage
) -> None:
    job = await Ingestor(db, embedder, settings=SETTINGS).ingest(
        ["supabase://kb/handbook/gone.md"], OPTS
    )
    assert job.status == "done" and job.files_failed == 1
    assert "Object not found" in job.errors[0]["error"]
    bare = await Ingestor(db, embedder, settings=Settings()).ingest(["supabase://kb/x"], OPTS)
    assert bare.status == "done" and bare.files_failed == 1
    assert "SUPABASE_URL" in bare.errors[0]["error"]
    assert await DocumentRepository(db, WorkflowEngine(db)).list() == []


async def test_queued_supabase_job_runs_on_the_worker(
    db: Database, database_url: str, embedder: HashingEmbedder, fake: FakeStorage
) -> None:
    import asyncio

    from arq.worker import Worker
    from redis.asyncio import Redis

    from graphs.core.events import RedisEventBus
    from knowledge.queue import create_ingest_job, enqueue_ingest
    from knowledge.worker import worker_options
    from tests.integration.redis_support import (
        REDIS_URL,
        delete_arq_job,
        delete_prefix,
        new_prefix,
    )

    prefix = new_prefix()
    settings = Settings(
        DATABASE_URL=database_url, REDIS_URL=REDIS_URL, queue_name=f"{prefix}queue",
        cache_prefix=f"{prefix}cache:", supabase_url=URL, supabase_key=SecretStr(KEY),
    )  # fmt: skip
    redis = Redis.from_url(REDIS_URL)
    try:
        job_id = await create_ingest_job(db, ["supabase://kb/handbook/refunds.md"], OPTS)
        assert (await enqueue_ingest(settings, job_id, db=db)).queued
        ctx = {"db": db, "embedder": embedder,
               "bus": RedisEventBus(redis, stream=f"{prefix}events")}  # fmt: skip
        worker = Worker(**worker_options(
            settings, burst=True, ctx=ctx, backoff_base_s=0.05, handle_signals=False,
            poll_delay_s=0.05,
        ))  # fmt: skip
        try:
            await asyncio.wait_for(worker.main(), timeout=60)
        finally:
            await worker.close()
        record = await DocumentRepository(db, WorkflowEngine(db)).list(collection="handbook")
        assert [(d.source, d.state) for d in record] == [
            ("supabase://kb/handbook/refunds.md", "active")
        ]
        delete_arq_job(str(job_id))
    finally:
        await redis.aclose()
        delete_prefix(prefix)
