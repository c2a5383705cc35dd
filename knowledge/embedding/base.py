"""The ``Embedder`` protocol every embedding backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Maps text to L2-normalized float32 vectors, so cosine similarity is a dot product.

    Attributes:
        model: Stable model identifier stored with every vector (part of the cache key).
        dimension: Length of every vector the model returns.
    """

    model: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed passages; returns shape ``(len(texts), dimension)``, rows of unit norm."""
        ...

    def embed_query(self, text: str) -> Vector:
        """Embed one search query; returns shape ``(dimension,)`` with unit norm."""
        ...
