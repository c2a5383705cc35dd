"""An exact, in-process ``VectorStore`` (numpy).

The reference the pgvector store is checked against, and a store for tests and tiny deployments.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import numpy as np

from knowledge.embedding.base import Matrix, Vector
from knowledge.store.base import (
    EMPTY_TERM_STATS,
    DocumentRef,
    ScoredChunk,
    SearchFilters,
    TermStats,
    VectorStoreError,
)
from knowledge.types import Chunk

_WORD = re.compile(r"[a-z0-9]+")


@dataclass
class _Row:
    chunk_id: int
    doc: DocumentRef
    chunk: Chunk
    vector: Vector
    model: str


def _matches(doc: DocumentRef, f: SearchFilters | None) -> bool:
    if f is None:
        return True
    return (
        (not f.collections or doc.collection in f.collections)
        and (not f.content_types or doc.content_type in f.content_types)
        and (not f.sources or doc.source in f.sources)
    )


class InMemoryVectorStore:
    """Exact cosine search over numpy arrays; documents are servable once marked so."""

    def __init__(self) -> None:
        self._rows: dict[UUID, list[_Row]] = {}
        self._servable: set[UUID] = set()
        self._next_id = 1

    def set_servable(self, document_id: UUID, servable: bool = True) -> None:
        """Mark a document servable (or not)."""
        if servable:
            self._servable.add(document_id)
        else:
            self._servable.discard(document_id)

    async def replace_chunks(
        self, document: DocumentRef, chunks: Sequence[Chunk], vectors: Matrix, *, model: str
    ) -> int:
        """See :meth:`VectorStore.replace_chunks`."""
        if len(chunks) != len(vectors):
            raise VectorStoreError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        rows = []
        for chunk, vec in zip(chunks, vectors, strict=True):
            rows.append(_Row(self._next_id, document, chunk, np.asarray(vec, np.float32), model))
            self._next_id += 1
        self._rows[document.id] = rows
        return len(rows)

    async def delete_chunks(self, document_id: UUID) -> int:
        """See :meth:`VectorStore.delete_chunks`."""
        return len(self._rows.pop(document_id, []))

    def _candidates(self, filters: SearchFilters | None) -> list[_Row]:
        return [
            r
            for doc_id, rows in self._rows.items()
            if doc_id in self._servable
            for r in rows
            if _matches(r.doc, filters)
        ]

    async def search(
        self,
        query: Vector,
        *,
        model: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        with_embeddings: bool = False,
    ) -> list[ScoredChunk]:
        """See :meth:`VectorStore.search` (exact: computes every similarity)."""
        rows = [r for r in self._candidates(filters) if r.model == model]
        if not rows or k <= 0:
            return []
        sims = np.stack([r.vector for r in rows]) @ np.asarray(query, np.float32)
        order = np.argsort(-sims, kind="stable")[:k]
        return [_scored(rows[i], float(sims[i]), with_embeddings) for i in order]

    async def text_search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        model: str | None = None,
        with_embeddings: bool = False,
    ) -> list[ScoredChunk]:
        """See :meth:`VectorStore.text_search` (term-overlap count, a stand-in for ts_rank)."""
        terms = set(_WORD.findall(query.lower()))
        scored = []
        for r in self._candidates(filters):
            if model is not None and r.model != model:
                continue
            words = _WORD.findall(_indexed(r))
            hits = sum(1 for w in words if w in terms)
            if hits:
                scored.append((hits / (1 + len(words)) ** 0.5, r))
        scored.sort(key=lambda x: -x[0])
        return [_scored(r, s, with_embeddings) for s, r in scored[:k]]

    async def term_stats(
        self,
        query: str,
        chunk_ids: Sequence[int],
        *,
        filters: SearchFilters | None = None,
        model: str | None = None,
    ) -> TermStats:
        """See :meth:`VectorStore.term_stats` (terms: lower-cased words, as :meth:`text_search`)."""
        terms = set(_WORD.findall(query.lower()))
        if not terms:
            return EMPTY_TERM_STATS
        rows = [r for r in self._candidates(filters) if model is None or r.model == model]
        words = {r.chunk_id: set(_WORD.findall(_indexed(r))) for r in rows}
        wanted = set(chunk_ids)
        everything = {r.chunk_id: r for rs in self._rows.values() for r in rs}
        present = {
            cid: frozenset(terms & set(_WORD.findall(_indexed(everything[cid]))))
            for cid in wanted
            if cid in everything
        }
        return TermStats(
            chunks=len(rows),
            df={t: sum(t in w for w in words.values()) for t in terms},
            present=present,
        )

    async def count_chunks(self, filters: SearchFilters | None = None) -> int:
        """See :meth:`VectorStore.count_chunks`."""
        return len(self._candidates(filters))


def _indexed(r: _Row) -> str:
    """What full-text search sees of a row: title, section and text, lower-cased."""
    return f"{r.doc.title} {r.chunk.section or ''} {r.chunk.text}".lower()


def _scored(r: _Row, score: float, with_embedding: bool) -> ScoredChunk:
    return ScoredChunk(
        chunk_id=r.chunk_id,
        document_id=r.doc.id,
        text=r.chunk.text,
        title=r.doc.title,
        section=r.chunk.section,
        heading_path=r.chunk.heading_path,
        source=r.doc.source,
        collection=r.doc.collection,
        content_type=r.doc.content_type,
        score=score,
        start=r.chunk.start,
        end=r.chunk.end,
        embedding=r.vector if with_embedding else None,
    )
