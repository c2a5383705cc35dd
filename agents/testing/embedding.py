"""Embedders for tests: a deterministic hashed bag of words, and one that must never be used.

* :class:`HashingEmbedder` — dependency-free and instant; texts sharing words are close, so
  retrieval and ingestion tests get meaningful neighbours without a model;
* :class:`NoEmbedder` — for runtimes opened without knowledge (benchmarks): any call fails.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from knowledge.embedding.base import Matrix, Vector


class HashingEmbedder:
    """Deterministic fake: each lower-cased word adds a signed one-hot at a hashed index.

    Attributes:
        model: ``"fake/hashing-<dimension>"``.
        dimension: Vector length.
        calls: Texts received per ``embed_documents`` call (for cache tests).
    """

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension
        self.model = f"fake/hashing-{dimension}"
        self.calls: list[list[str]] = []

    def _vector(self, text: str) -> Vector:
        v = np.zeros(self.dimension, dtype=np.float64)
        for word in re.findall(r"\w+", text.lower()) or ["<empty>"]:
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            v[h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
        if not v.any():  # words cancelled out
            v[0] = 1.0
        return (v / np.linalg.norm(v)).astype(np.float32)

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Unit vectors, shape ``(len(texts), dimension)``, float32.

        Raises:
            TypeError: ``texts`` is a single ``str``.
        """
        if isinstance(texts, str):
            raise TypeError("embed_documents() takes a sequence of texts, not a single str")
        self.calls.append(list(texts))
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> Vector:
        """The same vector as for a document of that text (no query prompt)."""
        return self._vector(text)


class NoEmbedder:
    """An embedder that refuses to embed (a runtime opened with ``knowledge=False``).

    Attributes:
        model: ``"none"``.
        dimension: 1.
    """

    model = "none"
    dimension = 1

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Never used.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("NoEmbedder: this runtime embeds nothing")

    def embed_query(self, text: str) -> Vector:
        """Never used.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("NoEmbedder: this runtime embeds nothing")
