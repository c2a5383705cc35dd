"""Redis retrieval cache: the same question over the same knowledge returns the same passages.

An entry maps ``(model, query, k, filters, threshold, hybrid, mmr, retriever config)`` plus a
**generation** to the passages found, for ``settings.cache_ttl_s`` seconds. The generation
changes whenever the knowledge the query can see changes, so a changed, added or archived
document is never answered from a stale entry:

* a per-collection counter in Redis (``INCR <prefix>gen:<collection>``, plus ``gen:*`` that
  every change bumps, used by unfiltered queries), bumped by :meth:`RetrievalCache.invalidate`
  after an ingestion job and after an archive;
* a stamp read from Postgres — ``count(*)`` and ``max(updated_at)`` of the collection's
  ``kb_documents`` rows — which moves with every insert, content update and WF-KB-DEV state
  change (the state trigger sets ``updated_at``), whichever code path or process made it.

The stamp costs one indexed aggregate per lookup, far less than the embedding plus the two
searches it saves; it keeps the cache correct even for transitions applied through the workflow
engine directly (an agent, the API), which do not call :meth:`RetrievalCache.invalidate`.

Redis down → lookups miss and stores are skipped (logged once), results are still correct.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from graphs.core.redis import RedisBreaker
from knowledge.retriever import Passage, Retriever
from knowledge.store.base import SearchFilters

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from graphs.core.database import Database
    from graphs.core.settings import Settings

DEFAULT_PREFIX = "grace:cache:ret:"
ALL = "*"


class RetrievalCache:
    """Cached passages in Redis with generation-based invalidation.

    Args:
        redis: An asyncio Redis client.
        db: The application database (for the knowledge stamp).
        ttl_s: Seconds an entry lives (``settings.cache_ttl_s``).
        prefix: Key prefix (tests use their own).
    """

    def __init__(self, redis: Redis, db: Database, *, ttl_s: int, prefix: str = DEFAULT_PREFIX):
        self.redis = redis
        self.db = db
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.breaker = RedisBreaker("retrieval_cache")

    async def invalidate(self, collection: str | None = None) -> None:
        """Make every cached answer over ``collection`` (None: every collection) stale.

        Never raises: with Redis down nothing is cached anyway.
        """
        from redis.exceptions import RedisError

        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(f"{self.prefix}gen:{ALL}")
                if collection is not None:
                    pipe.incr(f"{self.prefix}gen:{collection}")
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)

    async def generation(self, collections: tuple[str, ...]) -> str | None:
        """The knowledge generation seen by a query over ``collections`` (empty: all).

        Returns None when Redis is unavailable (the caller bypasses the cache).
        """
        from redis.exceptions import RedisError

        if not self.breaker.available():
            return None
        names = sorted(collections) or [ALL]
        try:
            counters = await self.redis.mget([f"{self.prefix}gen:{c}" for c in names])
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return None
        self.breaker.succeeded()
        async with self.db.connection() as conn:
            if collections:
                cur = await conn.execute(
                    "SELECT count(*), max(updated_at) FROM kb_documents WHERE collection = ANY(%s)",
                    (list(collections),),
                )
            else:
                cur = await conn.execute("SELECT count(*), max(updated_at) FROM kb_documents")
            row = await cur.fetchone()
        stamp = f"{row[0]}@{row[1].isoformat() if row and row[1] else '-'}" if row else "-"
        gens = ",".join(_text(c) for c in counters)
        return f"{gens}|{stamp}"

    async def get(self, key: str) -> list[Passage] | None:
        """Cached passages for ``key`` (from :func:`cache_key`), or None."""
        from redis.exceptions import RedisError

        if not self.breaker.available():
            return None
        try:
            raw = await self.redis.get(key)
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return None
        if raw is None:
            return None
        return [Passage.from_dict(d) for d in json.loads(raw)]

    async def put(self, key: str, passages: list[Passage]) -> None:
        """Store ``passages`` under ``key`` for ``ttl_s`` seconds (skipped when Redis is down)."""
        from redis.exceptions import RedisError

        if not self.breaker.available():
            return
        try:
            await self.redis.set(key, json.dumps([_exact(p) for p in passages]), ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)

    def key(self, material: dict[str, Any], generation: str) -> str:
        """The entry key for a query description and a generation."""
        blob = json.dumps([material, generation], sort_keys=True, default=str)
        return f"{self.prefix}q:{hashlib.sha256(blob.encode()).hexdigest()}"


class CachingRetriever(Retriever):
    """A :class:`~knowledge.retriever.Retriever` that answers repeated queries from Redis.

    Drop-in: same constructor state (store, embedder, config) as the wrapped retriever and the
    same :meth:`retrieve` signature; passages come back exactly as the wrapped retriever
    returned them (floats unrounded).

    Args:
        retriever: The retriever to wrap.
        cache: Where entries live.
    """

    def __init__(self, retriever: Retriever, cache: RetrievalCache) -> None:
        super().__init__(retriever.store, retriever.embedder, retriever.config)
        self.cache = cache
        self.hits = 0
        self.misses = 0

    async def retrieve(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: SearchFilters | None = None,
        threshold: float | None = None,
        hybrid: bool | None = None,
        mmr: bool | None = None,
    ) -> list[Passage]:
        """As :meth:`Retriever.retrieve`, through the cache."""
        cfg = self.config
        material = {
            "model": self.embedder.model,
            "query": query,
            "k": cfg.k if k is None else k,
            "filters": asdict(filters or SearchFilters()),
            "threshold": cfg.threshold if threshold is None else threshold,
            "answerability": self.answerability.version,
            "hybrid": cfg.hybrid if hybrid is None else hybrid,
            "mmr": cfg.mmr if mmr is None else mmr,
            "config": asdict(cfg),
        }
        generation = await self.cache.generation((filters or SearchFilters()).collections)
        key = self.cache.key(material, generation) if generation is not None else None
        if key is not None:
            cached = await self.cache.get(key)
            if cached is not None:
                self.hits += 1
                return cached
        self.misses += 1
        passages = await super().retrieve(
            query, k=k, filters=filters, threshold=threshold, hybrid=hybrid, mmr=mmr
        )
        if key is not None:
            await self.cache.put(key, passages)
        return passages


def caching_retriever(retriever: Retriever, settings: Settings, db: Database) -> Retriever:
    """Wrap ``retriever`` in the Redis cache when ``settings.redis_url`` is set, else return it."""
    from graphs.core.redis import get_redis

    redis = get_redis(settings)
    if redis is None:
        return retriever
    return CachingRetriever(retriever, _cache(settings, redis, db))


async def invalidate_collection(settings: Settings, db: Database, collection: str | None) -> None:
    """Bump the generation of ``collection`` (None: all) when Redis is configured; never raises."""
    from graphs.core.redis import get_redis

    redis = get_redis(settings)
    if redis is not None:
        await _cache(settings, redis, db).invalidate(collection)


def _cache(settings: Settings, redis: Redis, db: Database) -> RetrievalCache:
    return RetrievalCache(
        redis, db, ttl_s=settings.cache_ttl_s, prefix=f"{settings.cache_prefix}ret:"
    )


def _text(value: Any) -> str:
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else str(value)


def _exact(p: Passage) -> dict[str, Any]:
    return {
        "text": p.text,
        "similarity": p.similarity,
        "fused_score": p.fused_score,
        "collection": p.collection,
        "heading_path": list(p.heading_path),
        "citation": asdict(p.citation),
    }
