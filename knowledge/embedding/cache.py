"""In-process LRU cache in front of any embedder (persistent caching lives in the store)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from knowledge.embedding.base import Embedder, Matrix, Vector
from knowledge.embedding.local import check_texts

Kind = Literal["document", "query"]
CacheKey = tuple[str, Kind, str]


def text_hash(text: str) -> str:
    """SHA-256 hex digest of ``text`` encoded as UTF-8 (the cache's text key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheStats:
    """A snapshot of a :class:`CachedEmbedder`'s counters.

    Attributes:
        hits: Requested texts served without calling the inner embedder (cached, or repeated
            within the same call).
        misses: Texts sent to the inner embedder.
        size: Vectors held now.
        max_entries: Capacity; the least recently used vector is evicted beyond it.
    """

    hits: int
    misses: int
    size: int
    max_entries: int


class CachedEmbedder:
    """Wraps an embedder and remembers vectors by ``(inner.model, kind, sha256(text))``.

    Only misses reach the inner embedder, in one call per request, in input order, each distinct
    text once. Documents and queries are cached apart because some models embed them
    differently (query prompts). Thread-safe; the inner embedder is called outside the lock,
    so two threads missing the same text at once may both embed it.

    Attributes:
        inner: The wrapped embedder.
        model: Same as ``inner.model``.
    """

    def __init__(self, inner: Embedder, max_entries: int = 10_000) -> None:
        """Wrap ``inner``.

        Args:
            inner: Any embedder.
            max_entries: Vectors kept (LRU); at least 1.

        Raises:
            ValueError: ``max_entries`` is below 1.
        """
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        self.inner = inner
        self.model = inner.model
        self.max_entries = max_entries
        self._vectors: OrderedDict[CacheKey, Vector] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

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
        """Load the inner model now (when it supports it), as ``grace serve`` does at start."""
        getattr(self.inner, "warmup", lambda: None)()

    @property
    def hits(self) -> int:
        """Texts served without calling the inner embedder."""
        return self._hits

    @property
    def misses(self) -> int:
        """Texts sent to the inner embedder."""
        return self._misses

    def stats(self) -> CacheStats:
        """Return a consistent snapshot of the counters and size."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._vectors), self.max_entries)

    def clear(self) -> None:
        """Drop every cached vector and reset the counters."""
        with self._lock:
            self._vectors.clear()
            self._hits = self._misses = 0

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed passages, calling the inner embedder for uncached ones only.

        Returns:
            float32 array of shape ``(len(texts), dimension)``, rows as the inner embedder
            returns them; ``(0, dimension)`` for an empty sequence.

        Raises:
            TypeError: ``texts`` is a single str or holds a non-str.
            EmbedderError: Whatever the inner embedder raises (nothing is cached then).
        """
        return self._embed(check_texts(texts), "document")

    def embed_query(self, text: str) -> Vector:
        """Embed one query through the cache; shape ``(dimension,)``.

        Raises:
            EmbedderError: Whatever the inner embedder raises.
        """
        key: CacheKey = (self.model, "query", text_hash(text))
        with self._lock:
            cached = self._lookup(key)
            if cached is not None:
                self._hits += 1
                return cached.copy()
            self._misses += 1
        vector = np.asarray(self.inner.embed_query(text), dtype=np.float32)
        with self._lock:
            self._store(key, vector)
        return vector.copy()

    def _embed(self, texts: list[str], kind: Kind) -> Matrix:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        keys = [(self.model, kind, text_hash(text)) for text in texts]
        found: dict[CacheKey, Vector] = {}
        missing: dict[CacheKey, str] = {}  # insertion-ordered: first occurrence order
        with self._lock:
            for key, text in zip(keys, texts, strict=True):
                if key in found or key in missing:
                    continue
                cached = self._lookup(key)
                if cached is None:
                    missing[key] = text
                else:
                    found[key] = cached
            self._misses += len(missing)
            self._hits += len(texts) - len(missing)
        if missing:
            fresh = np.asarray(self.inner.embed_documents(list(missing.values())), np.float32)
            if fresh.shape[0] != len(missing):
                raise ValueError(
                    f"inner embedder returned {fresh.shape[0]} vectors for {len(missing)} texts"
                )
            with self._lock:
                for key, row in zip(missing, fresh, strict=True):
                    self._store(key, row)
                    found[key] = row
        return np.stack([found[key] for key in keys]).astype(np.float32, copy=False)

    def _lookup(self, key: CacheKey) -> Vector | None:
        vector = self._vectors.get(key)
        if vector is not None:
            self._vectors.move_to_end(key)
        return vector

    def _store(self, key: CacheKey, vector: Vector) -> None:
        stored = np.array(vector, dtype=np.float32)  # own copy, frozen
        stored.setflags(write=False)
        self._vectors[key] = stored
        self._vectors.move_to_end(key)
        while len(self._vectors) > self.max_entries:
            self._vectors.popitem(last=False)
