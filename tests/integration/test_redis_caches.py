"""Redis embedding and retrieval caches: hits, TTL, invalidation, and bypass when Redis is down."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from redis.asyncio import Redis

from agents.testing import HashingEmbedder
from graphs.core.database import Database
from graphs.workflows.engine import WorkflowEngine
from knowledge.documents import DocumentRepository
from knowledge.embedding.redis_cache import RedisCachedEmbedder
from knowledge.ingest import IngestOptions, Ingestor
from knowledge.retrieval_cache import CachingRetriever, RetrievalCache
from knowledge.retriever import Retriever
from knowledge.store.base import SearchFilters
from knowledge.store.pgvector import PgVectorStore
from tests.integration.redis_support import DOWN_URL, REDIS_URL, delete_prefix, new_prefix

pytestmark = pytest.mark.integration


@pytest.fixture
def prefix() -> Iterator[str]:
    p = new_prefix()
    yield p
    delete_prefix(p)


@pytest.fixture
def sync_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    yield client
    client.close()


# ------------------------------------------------------------------ embedding cache


def test_embedding_cache_shared_between_processes(sync_redis: redis.Redis, prefix: str) -> None:
    first, second = HashingEmbedder(32), HashingEmbedder(32)
    a = RedisCachedEmbedder(first, sync_redis, ttl_s=60, prefix=prefix)
    b = RedisCachedEmbedder(second, sync_redis, ttl_s=60, prefix=prefix)  # another replica
    got = a.embed_documents(["alpha beta", "gamma", "alpha beta"])
    assert first.calls == [["alpha beta", "gamma"]]  # each distinct miss once, one call
    assert (a.hits, a.misses) == (1, 2)
    again = b.embed_documents(["gamma", "alpha beta"])
    assert second.calls == []  # served from Redis
    np.testing.assert_array_equal(again, got[[1, 0]])
    assert again.dtype == np.float32 and again.shape == (2, 32)
    q = a.embed_query("alpha beta")  # queries are cached apart from documents
    assert a.misses == 3
    np.testing.assert_array_equal(b.embed_query("alpha beta"), q)
    assert b.hits == 3 and b.misses == 0


def test_embedding_cache_entries_expire(sync_redis: redis.Redis, prefix: str) -> None:
    inner = HashingEmbedder(16)
    cached = RedisCachedEmbedder(inner, sync_redis, ttl_s=1, prefix=prefix)
    cached.embed_documents(["short lived"])
    ttl_ms = sync_redis.pttl(cached.key("document", "short lived"))
    assert 0 < ttl_ms <= 1000  # type: ignore[operator]
    cached.embed_documents(["short lived"])
    assert cached.misses == 1
    time.sleep(1.1)
    cached.embed_documents(["short lived"])
    assert cached.misses == 2 and len(inner.calls) == 2


def test_embedding_cache_bypassed_when_redis_is_down() -> None:
    down = redis.Redis.from_url(DOWN_URL, socket_connect_timeout=0.5)
    inner = HashingEmbedder(16)
    cached = RedisCachedEmbedder(inner, down, ttl_s=60, prefix="gft:down:")
    np.testing.assert_array_equal(cached.embed_documents(["x y"]), inner.embed_documents(["x y"]))
    assert cached.breaker.down

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("Redis was called while the breaker is open")

    # the breaker skips Redis (no connect timeout per call): the client is not even asked
    down.mget = never  # type: ignore[method-assign]
    down.pipeline = never  # type: ignore[method-assign]
    np.testing.assert_array_equal(cached.embed_query("still answered"),
                                  inner.embed_query("still answered"))  # fmt: skip
    down.close()


# ------------------------------------------------------------------ retrieval cache


def _write(folder: Path, name: str, title: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
async def aredis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_retrieval_cache_hits_and_invalidates_on_document_change(
    db: Database, local_embedder: Any, aredis: Redis, prefix: str, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "refunds.md", "Refund policy",
           "Workshop fees are refunded in full up to seven days before the session.")  # fmt: skip
    _write(docs, "parking.md", "Parking",
           "Visitors park for free behind the gallery on weekends.")  # fmt: skip
    ingestor = Ingestor(db, local_embedder)
    await ingestor.ingest([docs], IngestOptions(collection="kb"))
    plain = Retriever(PgVectorStore(db), local_embedder)
    cache = RetrievalCache(aredis, db, ttl_s=60, prefix=prefix)
    cached = CachingRetriever(plain, cache)
    question, only_kb = "Can I get my workshop fee back?", SearchFilters(collections=("kb",))

    first = await cached.retrieve(question, filters=only_kb)
    second = await cached.retrieve(question, filters=only_kb)
    assert first and first[0].citation.title == "Refund policy"
    assert second == first == await plain.retrieve(question, filters=only_kb)
    assert (cached.hits, cached.misses) == (1, 1)

    # Archived through the workflow engine, nobody calls invalidate(): the stamp moves anyway.
    repo = DocumentRepository(db, WorkflowEngine(db))
    await repo.archive(first[0].citation.document_id, operator="tester")
    after_archive = await cached.retrieve(question, filters=only_kb)
    assert cached.misses == 2
    assert all(p.citation.title != "Refund policy" for p in after_archive)

    # Re-ingesting changed content is seen too (reactivating the archived document on purpose:
    # without it an archived document stays archived).
    changed = "Workshop fees are refunded in full up to fourteen days before the session."
    _write(docs, "refunds.md", "Refund policy", changed)
    await ingestor.ingest([docs], IngestOptions(collection="kb", reactivate=True))
    fresh = await cached.retrieve(question, filters=only_kb)
    assert cached.misses == 3 and "fourteen" in fresh[0].text

    # An explicit invalidate() of the collection also forces a miss.
    await cached.retrieve(question, filters=only_kb)
    assert cached.hits == 2
    await cache.invalidate("kb")
    await cached.retrieve(question, filters=only_kb)
    assert cached.misses == 4


async def test_retrieval_cache_bypassed_when_redis_is_down(
    db: Database, local_embedder: Any, tmp_path: Path
) -> None:
    _write(tmp_path, "hours.md", "Opening hours", "The wellness center opens at eight.")
    await Ingestor(db, local_embedder).ingest([tmp_path], IngestOptions(collection="kb"))
    plain = Retriever(PgVectorStore(db), local_embedder)
    down = Redis.from_url(DOWN_URL, socket_connect_timeout=0.5)
    cached = CachingRetriever(plain, RetrievalCache(down, db, ttl_s=60, prefix="gft:down:"))
    question = "When does the wellness center open?"
    expected = await plain.retrieve(question)
    assert expected
    assert await cached.retrieve(question) == expected
    assert await cached.retrieve(question) == expected
    assert cached.hits == 0 and cached.cache.breaker.down
    await down.aclose()
