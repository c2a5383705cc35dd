"""The ``VectorStore`` protocol and the records it exchanges."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from uuid import UUID

from knowledge.embedding.base import Matrix, Vector
from knowledge.types import Chunk


class VectorStoreError(RuntimeError):
    """A store operation was refused (e.g. vector count or dimension mismatch)."""


@dataclass(frozen=True)
class DocumentRef:
    """What chunks need to know about their document (copied onto each chunk row for filtering).

    Attributes:
        id: Document id.
        collection: Collection used for filtering.
        source: File path or URL.
        title: Title for citations.
        content_type: MIME type.
    """

    id: UUID
    collection: str
    source: str
    title: str
    content_type: str


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search; empty tuples mean "no restriction".

    Attributes:
        collections: Only these collections.
        content_types: Only these MIME types.
        sources: Only these sources (exact path/URL).
    """

    collections: tuple[str, ...] = ()
    content_types: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing is restricted."""
        return not (self.collections or self.content_types or self.sources)


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with everything a citation needs.

    Attributes:
        chunk_id: Store id of the chunk.
        document_id: Its document.
        text: Chunk text.
        title: Document title.
        section: Innermost heading, if any.
        heading_path: All enclosing headings, outermost first.
        source: Document path or URL.
        collection: Document collection.
        content_type: Document MIME type.
        score: Cosine similarity in [-1, 1] for dense search; ``ts_rank_cd`` for text search.
        start: Start offset of the chunk in the document text.
        end: End offset (exclusive).
        embedding: The chunk's vector when the caller asked for it (for MMR), else None.
    """

    chunk_id: int
    document_id: UUID
    text: str
    title: str
    section: str | None
    heading_path: tuple[str, ...]
    source: str
    collection: str
    content_type: str
    score: float
    start: int
    end: int
    embedding: Vector | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TermStats:
    """How a query's terms spread over the searched chunks (lexical evidence).

    The terms are the store's own full-text lexemes of the query (pgvector: the ``english``
    text-search configuration), so they match the chunks' indexed terms exactly.

    Attributes:
        chunks: Servable chunks the search covers (``N``, after filters and model).
        df: Document frequency of each query term: chunks containing it (0: absent from the
            whole collection).
        present: For each asked chunk id, the query terms its indexed text contains.
    """

    chunks: int
    df: Mapping[str, int]
    present: Mapping[int, frozenset[str]]

    def idf(self, term: str) -> float:
        """Inverse document frequency ``ln((N + 1) / (df + 0.5))`` of a query term.

        BM25's smoothed form (Robertson & Zaragoza 2009), kept positive for a term in every
        chunk.
        """
        return math.log((self.chunks + 1) / (self.df.get(term, 0) + 0.5))

    @property
    def terms(self) -> list[str]:
        """The query terms that count: words of three or more letters.

        Fragments ("m" of "I'm"), numbers and references ("b", "-2041" of "B-2041") are
        absent from most collections and would pass for rare words the corpus lacks.
        """
        return [t for t in self.df if len(t) >= 3 and t.isalpha()]

    def _total(self) -> float:
        return sum(self.idf(t) for t in self.terms)

    def coverage(self, chunk_id: int) -> float:
        """IDF-weighted share (0..1) of the query's terms found in the chunk (0.0: no terms)."""
        total = self._total()
        if total <= 0:
            return 0.0
        found = self.present.get(chunk_id, frozenset())
        return sum(self.idf(t) for t in self.terms if t in found) / total

    def absent_share(self) -> float:
        """IDF-weighted share (0..1) of the query's terms found in no chunk at all.

        An unanswerable question usually names something the collection never mentions
        ("parking", "sauna"); 0.0 when the query has no terms.
        """
        total = self._total()
        if total <= 0:
            return 0.0
        return sum(self.idf(t) for t in self.terms if self.df[t] == 0) / total


EMPTY_TERM_STATS = TermStats(chunks=0, df={}, present={})


@runtime_checkable
class VectorStore(Protocol):
    """Stores chunk vectors and answers nearest-neighbour and full-text queries.

    Only chunks of servable documents are returned by searches; what makes a document servable
    is the implementation's business (pgvector: its WF-KB-DEV state).
    """

    async def replace_chunks(
        self, document: DocumentRef, chunks: Sequence[Chunk], vectors: Matrix, *, model: str
    ) -> int:
        """Atomically replace all chunks of ``document``; returns the number written.

        Raises:
            VectorStoreError: ``len(chunks) != len(vectors)``.
        """
        ...

    async def delete_chunks(self, document_id: UUID) -> int:
        """Delete every chunk of a document; returns how many were deleted."""
        ...

    async def search(
        self,
        query: Vector,
        *,
        model: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        with_embeddings: bool = False,
    ) -> list[ScoredChunk]:
        """Top-``k`` servable chunks by cosine similarity to ``query``, best first."""
        ...

    async def text_search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        model: str | None = None,
        with_embeddings: bool = False,
    ) -> list[ScoredChunk]:
        """Top-``k`` servable chunks by full-text rank, best first (empty when no term matches).

        ``model`` restricts to chunks embedded by that model; ``with_embeddings`` returns vectors.
        """
        ...

    async def term_stats(
        self,
        query: str,
        chunk_ids: Sequence[int],
        *,
        filters: SearchFilters | None = None,
        model: str | None = None,
    ) -> TermStats:
        """Lexical evidence for a query: its terms' document frequencies and chunk hits.

        Frequencies count the servable chunks matching ``filters`` (and ``model``);
        ``present`` says which query terms each of ``chunk_ids`` contains.
        """
        ...

    async def count_chunks(self, filters: SearchFilters | None = None) -> int:
        """Number of servable chunks matching ``filters``."""
        ...
