"""Semantic chunker: break where the embeddings of neighbouring sentences drift apart.

The method is level 4 ("semantic splitting") of Greg Kamradt's notebook "The 5 Levels of Text
Splitting" (FullStackRetrieval-com/RetrievalTutorials), as implemented by LangChain's
``SemanticChunker`` (``langchain_experimental``) with its ``percentile`` breakpoint type: embed
each sentence together with ``buffer_size`` neighbours on each side, take the cosine distance
between consecutive windows, and break after every sentence whose distance exceeds the given
percentile of all distances. Differences: our default percentile is 90 (LangChain uses 95, so
we split a little more often), we work on character spans (exact offsets), and ``chunk_size``
is a hard maximum (LangChain's groups are unbounded).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from knowledge.chunking.base import build_chunks, check_sizes
from knowledge.chunking.defaults import DEFAULT_CHUNK_SIZE
from knowledge.chunking.sentence import count_within, sentence_units
from knowledge.chunking.spans import Span, pack
from knowledge.embedding.base import Embedder
from knowledge.types import Chunk, SourceDocument


class SemanticChunker:
    """Groups consecutive sentences by topic, splitting where similarity drops.

    Groups longer than ``chunk_size`` characters are packed into several chunks of whole
    sentences (long sentences split at whitespace, then hard), so no chunk exceeds
    ``chunk_size``. Chunks do not overlap. One ``embed_documents`` call per document, with one
    text per sentence.

    Args:
        embedder: Embeds the sentence windows (rows need not be normalised; they are).
        chunk_size: Hard maximum chunk length in characters.
        breakpoint_percentile: Percentile (0-100) of the neighbour distances above which a
            distance is a breakpoint; lower gives more, smaller chunks.
        buffer_size: Sentences on each side joined to a sentence before embedding it.

    Raises:
        ValueError: ``chunk_size < 1``, a percentile outside 0-100 or a negative buffer.
    """

    name = "semantic"

    def __init__(
        self,
        embedder: Embedder,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        *,
        breakpoint_percentile: float = 90.0,
        buffer_size: int = 1,
    ) -> None:
        check_sizes(chunk_size)
        if not 0.0 <= breakpoint_percentile <= 100.0:
            raise ValueError(
                f"breakpoint_percentile must be in [0, 100], got {breakpoint_percentile}"
            )
        if buffer_size < 0:
            raise ValueError(f"buffer_size must be >= 0, got {buffer_size}")
        self.embedder = embedder
        self.chunk_size = chunk_size
        self.breakpoint_percentile = breakpoint_percentile
        self.buffer_size = buffer_size

    def distances(self, text: str, units: list[Span]) -> np.ndarray:
        """Cosine distances between consecutive sentence windows, shape ``(len(units) - 1,)``.

        Raises:
            ValueError: The embedder returned a matrix of the wrong shape.
        """
        b = self.buffer_size
        last = len(units) - 1
        windows = [
            text[units[max(0, i - b)][0] : units[min(last, i + b)][1]] for i in range(last + 1)
        ]
        vectors = np.asarray(self.embedder.embed_documents(windows), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(windows):
            raise ValueError(
                f"embedder returned shape {vectors.shape}, expected ({len(windows)}, dimension)"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0.0, 1.0, norms)
        similarity = np.einsum("ij,ij->i", vectors[:-1], vectors[1:])
        distances: np.ndarray = np.clip(1.0 - similarity, 0.0, 2.0)
        return distances

    def breakpoints(self, distances: np.ndarray) -> list[int]:
        """Indices ``i`` such that a chunk ends after sentence ``i`` (distance above threshold)."""
        if distances.size == 0:
            return []
        threshold = float(np.percentile(distances, self.breakpoint_percentile))
        return [int(i) for i in np.flatnonzero(distances > threshold)]

    def chunk(self, doc: SourceDocument) -> list[Chunk]:
        """Split ``doc`` at semantic breakpoints; ``metadata["sentences"]`` counts units."""
        units = sentence_units(doc.text, self.chunk_size)
        if not units:
            return []
        cuts = [0, *(i + 1 for i in self.breakpoints(self.distances(doc.text, units))), len(units)]
        spans: list[Span] = []
        for first, stop in pairwise(cuts):
            spans.extend(pack(units[first:stop], self.chunk_size))
        counts = [{"sentences": n} for n in count_within(units, spans)]
        return build_chunks(doc, spans, chunker=self.name, metadata=counts)
