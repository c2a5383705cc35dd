"""``VectorStore`` on PostgreSQL + pgvector.

HNSW cosine indexes per embedding model, exact scans for small filtered sets, and full-text
search on a generated ``tsvector`` column.

Search strategy (measured by ``grace bench knowledge``: 100k clustered 384-d vectors, 2 cores):

* unfiltered: the model's HNSW index (``ef_construction=128``, see
  :data:`knowledge.store.pg_sql.HNSW_BUILD`), ``hnsw.ef_search`` from settings (default 64:
  recall@10 0.998; 100: 1.0; 40: 0.985);
* filtered, few matching rows (<= ``exact_search_max_rows``, default 3,000): an exact scan
  through the btree on ``(collection, embedding_model)``, recall 1.0. It costs 3-4 µs per
  matching row (each row sits on its own heap page), so it only wins for small sets: at 1-2 %
  selectivity (1-2k rows) 5-9 ms against 11-33 ms for HNSW at recall 0.93-0.96, but at 10 %
  (10k rows) 37 ms against 6 ms;
* filtered, many rows: HNSW with ``hnsw.iterative_scan = relaxed_order`` (pgvector 0.8) and a
  final re-sort of the top-k (10 %: recall@10 0.99; without iterative scan 0.87).

The model name and dimension are inlined as SQL literals so that the planner can match the
partial, per-model index even for prepared (generic) plans.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from graphs.core.database import Database
from knowledge.embedding.base import Matrix, Vector
from knowledge.lifecycle import SERVABLE_STATES
from knowledge.store.base import (
    EMPTY_TERM_STATS,
    DocumentRef,
    ScoredChunk,
    SearchFilters,
    TermStats,
    VectorStoreError,
)
from knowledge.store.pg_sql import (
    COLUMNS,
    create_index_sql,
    index_name,
    scored_chunk,
    to_numpy,
    where_clause,
)
from knowledge.types import Chunk

Conn = psycopg.AsyncConnection[Any]
_COUNT_TTL_S = 30.0
#: Measured crossover (``grace bench knowledge``, 100k rows of 384-d, 2 cores): an exact scan
#: costs 3-4 µs per matching row; HNSW with iterative scan about 6 ms at 5 % selectivity
#: (recall 0.98) but 11 ms at 2 % (recall 0.96, p95 30 ms). They cross at 2-3k rows.
DEFAULT_EXACT_SEARCH_MAX_ROWS = 3_000


class PgVectorStore:
    """pgvector implementation of :class:`~knowledge.store.base.VectorStore`.

    Args:
        db: The application database (pool with pgvector adapters registered).
        exact_search_max_rows: Filtered searches over at most this many rows scan exactly.
    """

    def __init__(
        self, db: Database, *, exact_search_max_rows: int = DEFAULT_EXACT_SEARCH_MAX_ROWS
    ) -> None:
        self.db = db
        self.exact_search_max_rows = exact_search_max_rows
        self._indexed: set[tuple[str, int]] = set()
        self._counts: dict[tuple[Any, ...], tuple[float, int]] = {}

    # ----------------------------------------------------------------- writes
    async def ensure_index(self, model: str, dimension: int) -> str:
        """Create the HNSW cosine index for ``model`` if missing; returns its name.

        Built with ``m=16`` (pgvector's default) and ``ef_construction=128`` (default 64); see
        :data:`knowledge.store.pg_sql.HNSW_BUILD`.
        """
        name = index_name(model, dimension)
        if (model, dimension) in self._indexed:
            return name
        async with self.db.connection() as c:
            await c.execute("SELECT pg_advisory_lock(hashtext('kb_chunks_index'))")
            try:
                await c.execute(create_index_sql(name, model, dimension))
            finally:
                await c.execute("SELECT pg_advisory_unlock(hashtext('kb_chunks_index'))")
        self._indexed.add((model, dimension))
        return name

    async def replace_chunks(
        self,
        document: DocumentRef,
        chunks: Sequence[Chunk],
        vectors: Matrix,
        *,
        model: str,
        conn: Conn | None = None,
        text_hashes: Sequence[str] | None = None,
    ) -> int:
        """Atomically replace a document's chunks (see :class:`VectorStore`).

        The document row must exist. New chunks are servable iff the document's state is
        servable now; later workflow transitions flip them (trigger from migration 0002).

        Args:
            document: The document the chunks belong to.
            chunks: Chunks in order.
            vectors: ``(len(chunks), d)`` unit-norm float32 rows.
            model: Embedding model id stored with the vectors.
            conn: Run inside the caller's transaction (under a savepoint).
            text_hashes: SHA-256 of the exact text each vector was computed from (the key of
                the persistent embedding cache, see :meth:`vectors_for_hashes`); defaults to
                the hash of the chunk text.

        Raises:
            VectorStoreError: count mismatch or empty dimension.
        """
        if len(chunks) != len(vectors):
            raise VectorStoreError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        if len(chunks) and np.asarray(vectors).shape[1] == 0:
            raise VectorStoreError("vectors have dimension 0")
        dim = int(np.asarray(vectors).shape[1]) if len(chunks) else 0
        if conn is not None:
            if dim and (model, dim) not in self._indexed:
                # On the caller's connection: another connection's CREATE INDEX would wait for
                # this transaction's locks on kb_chunks while this transaction waits for it.
                await conn.execute(create_index_sql(index_name(model, dim), model, dim))
                self._indexed.add((model, dim))
            return await self._replace(conn, document, chunks, vectors, model, text_hashes)
        if dim:
            await self.ensure_index(model, dim)
        async with self.db.connection() as c:
            return await self._replace(c, document, chunks, vectors, model, text_hashes)

    async def _replace(
        self,
        c: Conn,
        doc: DocumentRef,
        chunks: Sequence[Chunk],
        vectors: Matrix,
        model: str,
        text_hashes: Sequence[str] | None,
    ) -> int:
        hashes = (
            list(text_hashes)
            if text_hashes is not None
            else [hashlib.sha256(ch.text.encode()).hexdigest() for ch in chunks]
        )
        if len(hashes) != len(chunks):
            raise VectorStoreError(f"{len(chunks)} chunks but {len(hashes)} text hashes")
        async with c.transaction():
            await c.execute("DELETE FROM kb_chunks WHERE document_id = %s", (doc.id,))
            servable_row = await (
                await c.execute(
                    "SELECT state = ANY(%s) FROM kb_documents WHERE id = %s",
                    (list(SERVABLE_STATES), doc.id),
                )
            ).fetchone()
            if servable_row is None:
                raise VectorStoreError(f"document {doc.id} does not exist")
            rows = [
                (
                    doc.id,
                    doc.collection,
                    doc.content_type,
                    doc.source,
                    doc.title,
                    ch.index,
                    ch.text,
                    ch.start,
                    ch.end,
                    list(ch.heading_path),
                    ch.section,
                    h,
                    model,
                    np.asarray(vec, dtype=np.float32),
                    bool(servable_row[0]),
                )
                for ch, vec, h in zip(chunks, vectors, hashes, strict=True)
            ]
            async with c.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO kb_chunks (document_id, collection, content_type, source, title,"
                    " chunk_index, text, start_offset, end_offset, heading_path, section,"
                    " content_hash, embedding_model, embedding, servable)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
        self._counts.clear()
        return len(rows)

    async def delete_chunks(self, document_id: UUID, *, conn: Conn | None = None) -> int:
        """Delete every chunk of a document; returns how many were deleted."""
        q = "DELETE FROM kb_chunks WHERE document_id = %s"
        if conn is not None:
            cur = await conn.execute(q, (document_id,))
        else:
            async with self.db.connection() as c:
                cur = await c.execute(q, (document_id,))
        self._counts.clear()
        return cur.rowcount

    async def vectors_for_hashes(self, model: str, hashes: Sequence[str]) -> dict[str, Vector]:
        """Stored vectors of chunks whose text hash is in ``hashes``.

        This is the persistent embedding cache, keyed by (model, content hash).
        """
        if not hashes:
            return {}
        async with self.db.connection() as c:
            rows = await (
                await c.execute(
                    "SELECT DISTINCT ON (content_hash) content_hash, embedding FROM kb_chunks"
                    " WHERE embedding_model = %s AND content_hash = ANY(%s)",
                    (model, list(hashes)),
                )
            ).fetchall()
        return {h: to_numpy(v) for h, v in rows}

    # ------------------------------------------------------------------ reads
    async def search(
        self,
        query: Vector,
        *,
        model: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        with_embeddings: bool = False,
    ) -> list[ScoredChunk]:
        """Top-``k`` servable chunks by cosine similarity (see the module docstring)."""
        if k <= 0:
            return []
        q = np.asarray(query, dtype=np.float32)
        dim = int(q.shape[0])
        where, params = where_clause(filters)
        exact = (
            filters is not None
            and not filters.empty
            and (await self._count(filters, model) <= self.exact_search_max_rows)
        )
        vec = sql.SQL("c.embedding::vector({})").format(sql.Literal(dim))
        order = sql.SQL("({vec} <=> %(q)s) + 0") if exact else sql.SQL("{vec} <=> %(q)s")
        emb = sql.SQL(", c.embedding") if with_embeddings else sql.SQL("")
        stmt = sql.SQL(
            "WITH hits AS MATERIALIZED ("
            " SELECT {cols}{emb}, {vec} <=> %(q)s AS distance FROM kb_chunks c"
            " WHERE c.embedding_model = {model} AND c.servable {where}"
            " ORDER BY {order} LIMIT %(k)s)"
            " SELECT * FROM hits ORDER BY distance, id"
        ).format(
            cols=sql.SQL(COLUMNS),
            emb=emb,
            vec=vec,
            model=sql.Literal(model),
            where=where,
            order=order.format(vec=vec),
        )
        params.update(q=q, k=k)
        async with self.db.connection() as c:
            rows = await (await c.cursor(row_factory=dict_row).execute(stmt, params)).fetchall()
        return [scored_chunk(r, 1.0 - float(r["distance"]), with_embeddings) for r in rows]

    async def text_search(
        self,
        query: str,
        *,
        k: int = 10,
        filters: SearchFilters | None = None,
        model: str | None = None,
        with_embeddings: bool = False,
    ) -> list[ScoredChunk]:
        """Top-``k`` servable chunks by ``ts_rank_cd`` over any of the query's terms.

        Args:
            query: Natural-language text; stemmed English terms are OR-ed.
            k: Maximum results.
            filters: Optional restrictions.
            model: Only chunks embedded with this model (so vectors are comparable).
            with_embeddings: Also return each chunk's vector.
        """
        if k <= 0 or not query.strip():
            return []
        where, params = where_clause(filters)
        if model is not None:
            where = sql.SQL("{} AND c.embedding_model = %(model)s").format(where)
            params["model"] = model
        emb = sql.SQL(", c.embedding") if with_embeddings else sql.SQL("")
        stmt = sql.SQL(
            "WITH q AS (SELECT nullif(replace(plainto_tsquery('english', %(text)s)::text,"
            " '&', '|'), '')::tsquery AS query)"
            " SELECT {cols}{emb}, ts_rank_cd(c.tsv, q.query) AS rank FROM kb_chunks c, q"
            " WHERE q.query IS NOT NULL AND c.tsv @@ q.query AND c.servable {where}"
            " ORDER BY rank DESC, c.id LIMIT %(k)s"
        ).format(cols=sql.SQL(COLUMNS), emb=emb, where=where)
        params.update(text=query, k=k)
        async with self.db.connection() as c:
            rows = await (await c.cursor(row_factory=dict_row).execute(stmt, params)).fetchall()
        return [scored_chunk(r, float(r["rank"]), with_embeddings) for r in rows]

    async def term_stats(
        self,
        query: str,
        chunk_ids: Sequence[int],
        *,
        filters: SearchFilters | None = None,
        model: str | None = None,
    ) -> TermStats:
        """See :meth:`VectorStore.term_stats`.

        The query's lexemes come from ``to_tsvector('english', query)``; each one's document
        frequency is a count over the ``tsv`` GIN index, and the chunks' terms are the
        intersection of their ``tsv`` with those lexemes. One round trip of two statements.
        """
        if not query.strip():
            return EMPTY_TERM_STATS
        where, params = where_clause(filters)
        if model is not None:
            where = sql.SQL("{} AND c.embedding_model = %(model)s").format(where)
            params["model"] = model
        params.update(text=query, ids=list(chunk_ids))
        df_stmt = sql.SQL(
            "WITH q AS (SELECT DISTINCT t FROM"
            " unnest(tsvector_to_array(to_tsvector('english', %(text)s))) t)"
            " SELECT NULL AS t, (SELECT count(*) FROM kb_chunks c WHERE c.servable {where})"
            " UNION ALL SELECT q.t, (SELECT count(*) FROM kb_chunks c"
            "  WHERE c.servable AND c.tsv @@ quote_literal(q.t)::tsquery {where}) FROM q"
        ).format(where=where)
        present_stmt = sql.SQL(
            "SELECT c.id, ARRAY(SELECT unnest(tsvector_to_array(c.tsv)) INTERSECT"
            " SELECT unnest(tsvector_to_array(to_tsvector('english', %(text)s))))"
            " FROM kb_chunks c WHERE c.id = ANY(%(ids)s)"
        )
        async with self.db.connection() as c:
            rows = await (await c.execute(df_stmt, params)).fetchall()
            found = await (await c.execute(present_stmt, params)).fetchall() if chunk_ids else []
        total = next((int(n) for t, n in rows if t is None), 0)
        return TermStats(
            chunks=total,
            df={str(t): int(n) for t, n in rows if t is not None},
            present={int(i): frozenset(terms) for i, terms in found},
        )

    async def count_chunks(self, filters: SearchFilters | None = None) -> int:
        """Number of servable chunks matching ``filters``."""
        where, params = where_clause(filters)
        stmt = sql.SQL("SELECT count(*) FROM kb_chunks c WHERE c.servable {}").format(where)
        async with self.db.connection() as c:
            row = await (await c.execute(stmt, params)).fetchone()
        return int(row[0]) if row else 0

    async def _count(self, filters: SearchFilters, model: str) -> int:
        """Rows (servable or not) a filtered search would scan, cached for 30 s.

        Counts no further than ``exact_search_max_rows + 1``: only the comparison with the
        threshold matters, and a full count grows with the collection (17.5k rows: 1.8 ms as an
        index-only scan, 0.6 ms bounded; before vacuum about 1.8 µs per row of heap visits).
        """
        key = (filters, model)
        hit = self._counts.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < _COUNT_TTL_S:
            return hit[1]
        where, params = where_clause(filters)
        stmt = sql.SQL(
            "SELECT count(*) FROM (SELECT 1 FROM kb_chunks c"
            " WHERE c.embedding_model = %(model)s {} LIMIT %(limit)s) s"
        ).format(where)
        params.update(model=model, limit=self.exact_search_max_rows + 1)
        async with self.db.connection() as c:
            row = await (await c.execute(stmt, params)).fetchone()
        n = int(row[0]) if row else 0
        self._counts[key] = (now, n)
        return n
