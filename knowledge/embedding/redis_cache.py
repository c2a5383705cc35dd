"""Redis embedding cache shared by every replica and worker (``REDIS_URL`` set).

Vectors are stored as raw float32 bytes under ``<prefix><model>:<kind>:<sha256(text)>`` with a
time to live (``settings.cache_ttl_s``), so a text embedded by one process is not embedded
again by another until the entry expires. The key holds the model id, so changing models
never serves stale vectors; a vector's bytes must match the model's dimension or the entry is
ignored.

The embedder protocol is synchronous (embedders run in worker threads), so this cache uses the
blocking Redis client. Redis down → the cache is bypassed and the inner embedder answers
(results unchanged); the outage is logged once (:class:`graphs.core.redis.RedisBreaker`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from graphs.core.redis import RedisBreaker
from knowledge.embedding.base import Embedder, Matrix, Vector
from knowledge.embedding.cache import Kind, text_hash
from knowledge.embedding.local import check_texts

if TYPE_CHECKING:
    from redis import Redis

DEFAULT_PREFIX = "grace:cache:emb:"


class RedisCachedEmbedder:
    """Wraps an embedder with a Redis cache keyed by ``(model, kind, sha256(text))``.

    Only misses reach the inner embedder, in one call per request, each distinct text once.

    Args:
        inner: Any embedder.
        redis: A blocking Redis client (thread-safe).
        ttl_s: Seconds each vector is kept (``settings.cache_ttl_s``).
        prefix: Key prefix (tests use their own).

    Attributes:
        hits: Texts served from Redis.
        misses: Texts sent to the inner embedder.
    """

    def __init__(
        self, inner: Embedder, redis: Redis, *, ttl_s: int, prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.inner = inner
        self.model = inner.model
        self.redis = redis
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.breaker = RedisBreaker("embedding_cache")
        self.hits = 0
        self.misses = 0
        self.batch_size = int(getattr(inner, "batch_size", 64) or 64)

    @property
    def dimension(self) -> int:
        """Vector length of the inner embedder."""
        return self.inner.dimension

    @dimension.setter
    def dimension(self, value: int) -> None:  # only to match the protocol's attribute
        raise AttributeError("dimension follows the inner embedder and cannot be set")

    @property
    def loaded(self) -> bool:
        """Whether the inner model is in memory (True for backends with nothing to load).

        ``/readyz`` reads it through this wrapper.
        """
        return bool(getattr(self.inner, "loaded", True))

    def warmup(self) -> None:
        """Load the inner model now (when it supports it)."""
        getattr(self.inner, "warmup", lambda: None)()

    def key(self, kind: Kind, text: str) -> str:
        """The Redis key of ``text``'s vector."""
        return f"{self.prefix}{self.model}:{kind}:{text_hash(text)}"

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed passages through the cache; shape ``(len(texts), dimension)``.

        Raises:
            TypeError: ``texts`` is a single str or holds a non-str.
            EmbedderError: Whatever the inner embedder raises (nothing is cached then).
        """
        items = check_texts(texts)
        if not items:
            return np.empty((0, self.dimension), dtype=np.float32)
        keys = [self.key("document", t) for t in items]
        found = self._get(sorted(set(keys)))
        missing: dict[str, str] = {}
        for key, text in zip(keys, items, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        self.hits += len(items) - len(missing)  # a text repeated within the call is a hit
        self.misses += len(missing)
        if missing:
            fresh = np.asarray(self.inner.embed_documents(list(missing.values())), np.float32)
            if fresh.shape[0] != len(missing):
                raise ValueError(
                    f"inner embedder returned {fresh.shape[0]} vectors for {len(missing)} texts"
                )
            new = dict(zip(missing, fresh, strict=True))
            self._set(new)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> Vector:
        """Embed one query through the cache; shape ``(dimension,)``."""
        key = self.key("query", text)
        found = self._get([key])
        if key in found:
            self.hits += 1
            return found[key]
        self.misses += 1
        vector = np.asarray(self.inner.embed_query(text), dtype=np.float32)
        self._set({key: vector})
        return vector

    def _get(self, keys: list[str]) -> dict[str, Vector]:
        from redis.exceptions import RedisError

        if not keys or not self.breaker.available():
            return {}
        try:
            raw: list[Any] = self.redis.mget(keys)  # type: ignore[assignment]
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return {}
        self.breaker.succeeded()
        out: dict[str, Vector] = {}
        for key, blob in zip(keys, raw, strict=False):
            if isinstance(blob, bytes) and len(blob) == 4 * self.dimension:
                out[key] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def _set(self, vectors: dict[str, Vector]) -> None:
        from redis.exceptions import RedisError

        if not vectors or not self.breaker.available():
            return
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for key, vector in vectors.items():
                    pipe.set(key, np.asarray(vector, np.float32).tobytes(), ex=self.ttl_s)
                pipe.execute()
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return
        self.breaker.succeeded()
