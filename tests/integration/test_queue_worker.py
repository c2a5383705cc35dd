"""Queued ingestion on real Redis: a worker runs jobs, retries, dead-letters, survives a kill."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from arq.worker import Worker
from redis.asyncio import Redis
from typer.testing import CliRunner

from agents.testing import HashingEmbedder
from api.cli.main import app as cli
from graphs.core.database import Database
from graphs.core.events import RedisEventBus
from graphs.core.settings import Settings, get_settings
from knowledge.embedding.base import Matrix
from knowledge.ingest import IngestOptions
from knowledge.jobs import JobRepository
from knowledge.queue import (
    create_ingest_job,
    dead_letters,
    enqueue_ingest,
    queue_statuses,
    wait_for_job,
)
from knowledge.retriever import Retriever
from knowledge.store.pgvector import PgVectorStore
from knowledge.worker import worker_options
from tests.integration.redis_support import (
    DOWN_URL,
    REDIS_URL,
    delete_arq_job,
    delete_prefix,
    new_prefix,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(database_url: str) -> Iterator[Settings]:
    prefix = new_prefix()
    yield Settings(
        DATABASE_URL=database_url, REDIS_URL=REDIS_URL, queue_name=f"{prefix}queue",
        cache_prefix=f"{prefix}cache:", job_max_tries=2, job_lease_s=1.5,
    )  # fmt: skip
    delete_prefix(prefix)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def _corpus(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        (folder / f"note{i}.md").write_text(
            f"# Note {i}\n\nRoom {i} of the gallery shows ceramics number {i}.\n", encoding="utf-8"
        )
    return folder


async def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """Run ``grace …`` (its own asyncio.run, so in a thread) with this test's settings."""
    assert settings.database_url is not None and settings.redis_url is not None
    monkeypatch.setenv("DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("REDIS_URL", settings.redis_url.get_secret_value())
    monkeypatch.setenv("GRACE_QUEUE_NAME", settings.queue_name)
    monkeypatch.setenv("GRACE_CACHE_PREFIX", settings.cache_prefix)
    get_settings.cache_clear()  # read once per process: re-read with this test's environment
    result = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def _burst(settings: Settings, redis: Redis, **ctx: Any) -> None:
    """Run an in-process worker until the queue is empty."""
    ctx.setdefault("bus", RedisEventBus(redis, stream=f"{settings.queue_name}:events"))
    worker = Worker(**worker_options(
        settings, burst=True, ctx=ctx, backoff_base_s=0.05, handle_signals=False, poll_delay_s=0.05
    ))  # fmt: skip
    try:
        await asyncio.wait_for(worker.main(), timeout=60)
    finally:
        await worker.close()


async def test_queued_job_runs_on_worker_and_is_searchable(
    settings: Settings,
    db: Database,
    redis: Redis,
    local_embedder: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = _corpus(tmp_path / "docs", 3)
    queued = await _cli(settings, monkeypatch, "ingest", str(docs), "--collection", "kb")
    assert queued["status"] == "queued" and queued["queue"] == settings.queue_name
    job_id = uuid.UUID(queued["id"])
    assert (await JobRepository(db).get(job_id)).status == "queued"
    assert await queue_statuses(settings, [job_id]) == {job_id: "queued"}

    await _burst(settings, redis, db=db, embedder=local_embedder)

    record = await wait_for_job(settings, db, job_id, timeout_s=5)
    assert (record.status, record.files_done, record.files_failed) == ("done", 3, 0)
    listed = await _cli(settings, monkeypatch, "knowledge", "jobs")
    assert [(j["id"], j["status"], j["queue"]) for j in listed] == [(str(job_id), "done", "done")]
    passages = await Retriever(PgVectorStore(db), local_embedder).retrieve(
        "Which room shows ceramics number 2?"
    )
    assert passages and passages[0].citation.title == "Note 2"
    events = await redis.xrange(f"{settings.queue_name}:events")
    types = [fields[b"type"].decode() for _, fields in events]
    assert types.count("job.progress") == 3 and types[-1] == "job.finished"
    delete_arq_job(str(job_id))


class _BrokenEmbedder(HashingEmbedder):
    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        self.calls.append(list(texts))
        raise RuntimeError("model crashed")


async def test_failing_job_is_retried_then_dead_lettered(
    settings: Settings,
    db: Database,
    redis: Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = await create_ingest_job(db, [_corpus(tmp_path / "d", 1)], IngestOptions())
    await enqueue_ingest(settings, job_id, db=db)
    broken = _BrokenEmbedder(16)

    await _burst(settings, redis, db=db, embedder=broken)

    assert len(broken.calls) == settings.job_max_tries == 2  # tried twice, then given up
    dead = await dead_letters(settings, redis)
    assert [(d["job_id"], d["tries"]) for d in dead] == [(str(job_id), 2)]
    assert "model crashed" in dead[0]["error"]
    record = await JobRepository(db).get(job_id)
    assert record.status == "failed" and "dead-lettered after 2 tries" in (record.error or "")
    listed = await _cli(settings, monkeypatch, "knowledge", "jobs", "--job", str(job_id))
    assert listed[0]["queue"] == "dead" and listed[0]["status"] == "failed"
    delete_arq_job(str(job_id))


@pytest.mark.slow
async def test_worker_killed_mid_job_is_taken_over_without_duplicates(
    settings: Settings, db: Database, redis: Redis, database_url: str, tmp_path: Path
) -> None:
    files = 6
    job_id = await create_ingest_job(db, [_corpus(tmp_path / "d", files)], IngestOptions())
    await enqueue_ingest(settings, job_id, db=db)
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
           "GRACE_QUEUE_NAME": settings.queue_name, "GRACE_JOB_LEASE_S": "1.5",
           "GRACE_CACHE_PREFIX": settings.cache_prefix}  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.worker_child"], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    repo = JobRepository(db)
    try:
        deadline = time.monotonic() + 60
        while (await repo.get(job_id)).files_done < 2:  # the slow worker is mid-job
            assert child.poll() is None, child.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the child worker made no progress"
            await asyncio.sleep(0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    killed = await repo.get(job_id)
    assert killed.status == "running" and killed.files_done < files

    await _burst(settings, redis, db=db, embedder=HashingEmbedder(64))  # takes over the lease

    record = await repo.get(job_id)
    assert record.status == "done" and record.files_failed == 0
    assert record.files_skipped >= killed.files_done  # committed files were not written again
    assert record.files_done + record.files_skipped == files
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT count(DISTINCT document_id), count(*),"
            " count(DISTINCT (document_id, chunk_index)),"
            " (SELECT count(*) FROM kb_documents) FROM kb_chunks"
        )
        docs, chunks, distinct, n_docs = await cur.fetchone()  # type: ignore[misc]
    assert docs == n_docs == files and chunks == distinct == files  # one chunk per note
    delete_arq_job(str(job_id))


@pytest.mark.parametrize("redis_url", [None, DOWN_URL], ids=["no-redis", "redis-down"])
async def test_without_redis_the_job_runs_in_process(
    db: Database, database_url: str, tmp_path: Path, redis_url: str | None
) -> None:
    settings = Settings(
        DATABASE_URL=database_url, REDIS_URL=redis_url, queue_name=f"gft:{uuid.uuid4().hex}"
    )
    job_id = await create_ingest_job(db, [_corpus(tmp_path / "d", 2)], IngestOptions())
    seen: list[str] = []
    result = await enqueue_ingest(
        settings, job_id, db=db, embedder=HashingEmbedder(16),
        progress=lambda r, done, total: seen.append(r.outcome),
    )  # fmt: skip
    assert not result.queued and result.record is not None
    assert result.record.status == "done" and seen == ["created", "created"]
    if redis_url is None:
        assert await queue_statuses(settings, [job_id]) == {}
