"""Vector search measurements for ``grace bench knowledge``.

Synthetic vectors go straight into ``kb_chunks`` with binary ``COPY`` (one servable document per
collection, no workflow instance), under their own model id so that they get their own partial
HNSW index and never mix with real embeddings. Searches go through
:meth:`PgVectorStore.search`, the retriever's dense path, and are scored against an exact numpy
scan. Index designs the store does not use (a partial index per collection, a ``halfvec`` index)
are measured with the same query shape in plain SQL.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
from psycopg import sql

from evals.bench.kb_data import VectorSet, exact_top_k
from evals.bench.report import LatencySummary
from graphs.core.database import Database
from knowledge.store.base import SearchFilters
from knowledge.store.pgvector import PgVectorStore

#: Model id of the synthetic vectors (their HNSW index is partial on it).
SYNTHETIC_MODEL = "bench/synthetic-clusters"
_SOURCE_PREFIX = "bench://synthetic/"
_COPY_COLUMNS = (
    "document_id, collection, content_type, source, title, chunk_index, text, start_offset,"
    " end_offset, section, content_hash, embedding_model, embedding, servable"
)
_COPY_TYPES = [
    "uuid",
    "text",
    "text",
    "text",
    "text",
    "int4",
    "text",
    "int4",
    "int4",
    "text",
    "text",
    "text",
    "vector",
    "bool",
]
_COLUMNS = (
    "c.id, c.document_id, c.text, c.title, c.section, c.heading_path, c.source, c.collection,"
    " c.content_type, c.start_offset, c.end_offset"
)

#: ``progress(label, completed, total)``: one line per label, ``total`` None when unknown.
Progress = Callable[[str, float, float | None], None]


def collection_name(index: int) -> str:
    """Name of synthetic collection ``index`` (``bench-c00`` is the 10 % one)."""
    return f"bench-c{index:02d}"


def with_options(url: str, options: str) -> str:
    """``url`` with libpq ``options`` added, e.g. ``-c maintenance_work_mem=1GB``.

    The settings apply to every session opened with the URL (per-session GUCs, no server
    configuration change).
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    found = [v for k, v in query if k == "options"]
    query = [(k, v) for k, v in query if k != "options"]
    query.append(("options", " ".join([*found, options])))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


async def load_vectors(
    db: Database, vs: VectorSet, *, model: str = SYNTHETIC_MODEL, progress: Progress | None = None
) -> npt.NDArray[np.int64]:
    """COPY the vectors into ``kb_chunks`` (servable), replacing earlier synthetic rows.

    Afterwards ``VACUUM (ANALYZE)`` sets hint bits and statistics, the state autovacuum leaves
    a table in, so that searches do not pay for the first visit of freshly copied pages.

    Args:
        db: Scratch database.
        vs: The vectors and their collection labels.
        model: ``embedding_model`` stored with the rows.
        progress: Progress callback.

    Returns:
        ``kb_chunks.id`` of every row, in the order of ``vs.vectors``.
    """
    label, n = f"Loading {len(vs.vectors):,} vectors (COPY)", len(vs.vectors)
    docs = {c: uuid.uuid4() for c in sorted({int(c) for c in vs.collections})}
    async with db.connection() as conn:
        async with conn.transaction():
            await remove_synthetic(conn)
            for c, doc_id in docs.items():
                await conn.execute(
                    "INSERT INTO kb_documents (id, collection, source, title, content_type,"
                    " content_hash, fingerprint, state) VALUES (%s, %s, %s, %s, 'text/plain',"
                    " 'synthetic', 'synthetic', 'active')",
                    (doc_id, collection_name(c), f"{_SOURCE_PREFIX}{c}", f"Synthetic {c}"),
                )
            copy_sql = f"COPY kb_chunks ({_COPY_COLUMNS}) FROM STDIN WITH (FORMAT BINARY)"
            async with conn.cursor().copy(copy_sql) as copy:
                copy.set_types(_COPY_TYPES)
                for i, (vec, c) in enumerate(zip(vs.vectors, vs.collections, strict=True)):
                    text, c = f"synthetic chunk {i}", int(c)
                    await copy.write_row(
                        (
                            docs[c],
                            collection_name(c),
                            "text/plain",
                            f"{_SOURCE_PREFIX}{c}",
                            f"Synthetic {c}",
                            i,
                            text,
                            0,
                            len(text),
                            None,
                            f"synthetic-{i}",
                            model,
                            vec,
                            True,
                        )
                    )
                    if progress is not None and i % 5000 == 0:
                        progress(label, i, n)
        rows = await (
            await conn.execute(
                "SELECT chunk_index, id FROM kb_chunks WHERE embedding_model = %s", (model,)
            )
        ).fetchall()
        await conn.execute("VACUUM (ANALYZE) kb_chunks")
    ids = np.empty(n, dtype=np.int64)
    for index, chunk_id in rows:
        ids[index] = chunk_id
    if progress is not None:
        progress(label, n, n)
    return ids


async def remove_synthetic(conn: Any) -> None:
    """Delete the synthetic documents (their chunks go with them) and every index on them."""
    await conn.execute("DELETE FROM kb_documents WHERE source LIKE %s", (f"{_SOURCE_PREFIX}%",))
    rows = await (
        await conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'kb_chunks' AND indexdef LIKE %s",
            (f"%{SYNTHETIC_MODEL}%",),
        )
    ).fetchall()
    for (name,) in rows:
        await conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))


@dataclass
class SearchRun:
    """Latencies and recall of one search configuration.

    Attributes:
        name: What was measured, e.g. ``unfiltered ef_search=40``.
        seconds: Latency of every measured query.
        recall: Mean recall@k against the exact scan.
        params: Configuration (path, ef_search, rows, k...).
    """

    name: str
    seconds: list[float]
    recall: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def latency(self) -> LatencySummary:
        """Latency percentiles."""
        return LatencySummary.from_seconds(self.seconds)

    def brief(self) -> dict[str, Any]:
        """``name``, p50/p95 and recall plus the params: one row of the alternatives table."""
        lat = self.latency
        return {
            "name": self.name,
            "p50_ms": lat.p50_ms,
            "p95_ms": lat.p95_ms,
            "recall_at_10": round(self.recall, 4),
        } | self.params


def _truth(
    vs: VectorSet, ids: npt.NDArray[np.int64], collection: int | None, queries: npt.NDArray[Any]
) -> npt.NDArray[np.int64]:
    mask = None if collection is None else vs.collections == collection
    return ids[exact_top_k(vs.vectors, queries, 10, mask)]


async def _measure(
    search: Callable[[npt.NDArray[np.float32]], Any],
    queries: npt.NDArray[np.float32],
    truth: npt.NDArray[np.int64],
    warmup: int,
) -> tuple[list[float], float]:
    for q in queries[-warmup:]:
        await search(q)
    seconds: list[float] = []
    hits = 0
    for q, expected in zip(queries, truth, strict=True):
        t0 = time.perf_counter()
        found = await search(q)
        seconds.append(time.perf_counter() - t0)
        hits += len(set(found) & {int(x) for x in expected})
    return seconds, hits / float(truth.size) if truth.size else 1.0


async def measure_search(
    store: PgVectorStore,
    vs: VectorSet,
    ids: npt.NDArray[np.int64],
    *,
    name: str,
    collection: int | None = None,
    query_mask: npt.NDArray[np.bool_] | None = None,
    warmup: int = 20,
    params: dict[str, Any] | None = None,
) -> SearchRun:
    """Run the held-out queries through ``store.search`` (k=10) and score recall@10.

    Args:
        store: The store under test (its database decides ``hnsw.ef_search``).
        vs: Vectors (for the exact answer) and queries.
        ids: Chunk id of each row of ``vs.vectors``.
        name: Label of the run.
        collection: Filter to this collection index, or None for no filter.
        query_mask: Use only these queries.
        warmup: Queries run first and not timed (taken from the end of the query list).
        params: Extra facts recorded with the run.

    Returns:
        The run's latencies and recall.
    """
    queries = vs.queries if query_mask is None else vs.queries[query_mask]
    filters = None if collection is None else SearchFilters((collection_name(collection),))

    async def search(q: npt.NDArray[np.float32]) -> list[int]:
        found = await store.search(q, model=SYNTHETIC_MODEL, k=10, filters=filters)
        return [c.chunk_id for c in found]

    truth = _truth(vs, ids, collection, queries)
    seconds, recall = await _measure(search, queries, truth, min(warmup, len(queries)))
    rows = len(vs.vectors) if collection is None else int((vs.collections == collection).sum())
    return SearchRun(name, seconds, recall, dict(params or {}, rows=rows, queries=len(queries)))


def search_sql(
    dimension: int, *, collection: int | None = None, halfvec: bool = False
) -> sql.Composed:
    """The store's query shape with the collection inlined (so a partial index can match).

    Args:
        dimension: Vector dimension.
        collection: Inline ``collection = '<name>'``; None for no filter.
        halfvec: Order by ``embedding::halfvec(d)`` (the expression of a halfvec index) and
            return the exact float distance.
    """
    vec = sql.SQL("c.embedding::vector({})").format(sql.Literal(dimension))
    order = vec + sql.SQL(" <=> %(q)s")
    if halfvec:
        order = sql.SQL("c.embedding::halfvec({d}) <=> %(q)s::halfvec({d})").format(
            d=sql.Literal(dimension)
        )
    where: sql.Composable = sql.SQL("")
    if collection is not None:
        where = sql.SQL("AND c.collection = {}").format(sql.Literal(collection_name(collection)))
    return sql.SQL(
        "WITH hits AS MATERIALIZED (SELECT {cols}, {vec} <=> %(q)s AS distance FROM kb_chunks c"
        " WHERE c.embedding_model = {model} AND c.servable {where} ORDER BY {order}"
        " LIMIT %(k)s) SELECT * FROM hits ORDER BY distance, id"
    ).format(
        cols=sql.SQL(_COLUMNS),
        vec=vec,
        model=sql.Literal(SYNTHETIC_MODEL),
        where=where,
        order=order,
    )


async def measure_sql(
    db: Database,
    vs: VectorSet,
    ids: npt.NDArray[np.int64],
    stmt: sql.Composed,
    *,
    name: str,
    collection: int | None = None,
    query_mask: npt.NDArray[np.bool_] | None = None,
    warmup: int = 20,
    params: dict[str, Any] | None = None,
) -> SearchRun:
    """Like :func:`measure_search` for a statement from :func:`search_sql`.

    Returns:
        The run's latencies and recall; ``params["index"]`` names the index the plan used.
    """
    queries = vs.queries if query_mask is None else vs.queries[query_mask]
    async with db.connection() as conn:
        plan = await conn.execute(sql.SQL("EXPLAIN ") + stmt, {"q": queries[0], "k": 10})
        text = "\n".join(r[0] for r in await plan.fetchall())
        used = re.findall(r"[Ii]ndex Scan using (\S+)", text)

        async def search(q: npt.NDArray[np.float32]) -> list[int]:
            cur = await conn.execute(stmt, {"q": q, "k": 10})
            return [int(r[0]) for r in await cur.fetchall()]

        truth = _truth(vs, ids, collection, queries)
        seconds, recall = await _measure(search, queries, truth, min(warmup, len(queries)))
    rows = len(vs.vectors) if collection is None else int((vs.collections == collection).sum())
    extra = {"index": used[0] if used else "none (scan)", "rows": rows, "queries": len(queries)}
    return SearchRun(name, seconds, recall, dict(params or {}) | extra)


async def buffer_profile(
    db: Database, vs: VectorSet, dimension: int, *, sample: int = 50
) -> dict[str, float]:
    """How much of an unfiltered query misses ``shared_buffers``, and what that costs.

    ``EXPLAIN (ANALYZE, BUFFERS)`` of ``sample`` queries counts shared-buffer hits and reads
    (pages that came from the OS page cache). Then each of ``2 * sample`` queries runs twice
    in a row: the second run finds its pages in ``shared_buffers``, so the difference of the
    medians is the price of the misses.

    Returns:
        ``hit_per_query``, ``read_per_query``, ``read_share``, ``exec_ms_p50`` (server
        execution time), ``first_run_ms_p50`` and ``repeated_ms_p50``.
    """
    stmt = search_sql(dimension)
    explain = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + stmt
    hits: list[int] = []
    reads: list[int] = []
    execs: list[float] = []
    first: list[float] = []
    again: list[float] = []
    async with db.connection() as conn:
        for q in vs.queries[:sample]:
            cur = await conn.execute(explain, {"q": q, "k": 10})
            text = "\n".join(r[0] for r in await cur.fetchall())
            found = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", text)
            took = re.search(r"Execution Time: ([\d.]+)", text)
            hits.append(int(found.group(1)) if found else 0)
            reads.append(int(found.group(2) or 0) if found else 0)
            execs.append(float(took.group(1)) if took else 0.0)
        for q in vs.queries[sample : 3 * sample]:
            for out in (first, again):
                t0 = time.perf_counter()
                await (await conn.execute(stmt, {"q": q, "k": 10})).fetchall()
                out.append(1000 * (time.perf_counter() - t0))
    total = float(sum(hits) + sum(reads)) or 1.0
    return {
        "hit_per_query": round(float(np.mean(hits)), 1),
        "read_per_query": round(float(np.mean(reads)), 1),
        "read_share": round(sum(reads) / total, 3),
        "exec_ms_p50": round(float(np.median(execs)), 3),
        "first_run_ms_p50": round(float(np.median(first)), 3) if first else 0.0,
        "repeated_ms_p50": round(float(np.median(again)), 3) if again else 0.0,
    }


async def relation_mb(db: Database, name: str) -> float:
    """Size of a table or index in MB (0 when it does not exist)."""
    async with db.connection() as conn:
        row = await (
            await conn.execute(
                "SELECT coalesce(pg_relation_size(to_regclass(%s)), 0) / 1e6", (name,)
            )
        ).fetchone()
    return round(float(row[0]), 1) if row else 0.0
