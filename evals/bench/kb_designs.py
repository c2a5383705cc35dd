"""The search part of ``grace bench knowledge``: the store's design and the alternatives.

The store's design is measured through :meth:`PgVectorStore.search` with the configured
``hnsw.ef_search`` and ``exact_search_max_rows``. Every configuration runs 20 untimed warm-up
queries first (the first one, right after the index build, runs all of them), each on a fresh
pool. The alternatives, each on the same data and queries:

* other ``hnsw.ef_search`` values (unfiltered and filtered);
* the filtered 10 % collection through each path: exact scan (the previous 20,000-row rule),
  HNSW with ``hnsw.iterative_scan`` ``relaxed_order`` / ``strict_order`` / ``off``;
* small collections (1-5 %) through the exact scan and through HNSW: where the two cross;
* the topical collection (whole clusters), with on-topic and with all queries;
* a partial HNSW index per large collection (plain SQL with the collection inlined);
* the index built with pgvector's default ``ef_construction=64`` (the store's build before);
* on request, an HNSW index on ``embedding::halfvec(d)`` (half the size; plain SQL, exact
  re-scoring).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from psycopg import sql

from evals.bench.kb_data import VectorSet
from evals.bench.kb_search import (
    SYNTHETIC_MODEL,
    Progress,
    SearchRun,
    buffer_profile,
    collection_name,
    measure_search,
    measure_sql,
    relation_mb,
    search_sql,
    with_options,
)
from graphs.core.database import Database
from knowledge.store.pg_sql import HNSW_BUILD
from knowledge.store.pgvector import PgVectorStore

#: Session setting for index builds (a per-session GUC; the server config is left alone).
BUILD_MEMORY = "1GB"
#: pgvector's default HNSW build, the store's build before this benchmark.
PGVECTOR_DEFAULT_BUILD = "m = 16, ef_construction = 64"
#: The rule the store used before this benchmark: exact scan up to this many filtered rows.
PREVIOUS_EXACT_MAX_ROWS = 20_000
_NEVER_EXACT, _ALWAYS_EXACT = 0, 10**9


@dataclass
class SearchResults:
    """What the search part measured.

    Attributes:
        unfiltered: The store's design, no filter.
        filtered: The store's design, filtered to the 10 % collection.
        alternatives: Every other configuration (see the module docstring).
        facts: Build time, sizes, buffer profile, settings.
    """

    unfiltered: SearchRun
    filtered: SearchRun
    alternatives: list[SearchRun] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


class _Designs:
    """Runs the measurements against one scratch database."""

    def __init__(
        self,
        url: str,
        vs: VectorSet,
        ids: npt.NDArray[np.int64],
        ef_search: int,
        exact_max_rows: int,
        progress: Progress | None,
    ) -> None:
        self.url, self.vs, self.ids = url, vs, ids
        self.ef, self.exact_max = ef_search, exact_max_rows
        self.dim = int(vs.vectors.shape[1])
        self.progress = progress
        self.runs: list[SearchRun] = []
        self.label = "Searching"
        self.step, self.steps = 0, 1

    def tick(self) -> None:
        self.step += 1
        if self.progress is not None:
            self.progress(self.label, self.step, self.steps)

    async def db(self, ef: int | None = None, *, gucs: str | None = None) -> Database:
        url = with_options(self.url, gucs) if gucs else self.url
        db = Database(url, min_size=1, max_size=1, hnsw_ef_search=ef or self.ef)
        await db.pool.open(wait=True, timeout=15)
        return db

    async def store_run(
        self,
        name: str,
        *,
        ef: int | None = None,
        exact_max: int | None = None,
        iterative: str | None = None,
        **kw: Any,
    ) -> SearchRun:
        db = await self.db(ef)
        try:
            if iterative is not None:  # after the pool's own session setup (relaxed_order)
                async with db.connection() as conn:
                    await conn.execute(
                        "SELECT set_config('hnsw.iterative_scan', %s, false)", (iterative,)
                    )
            threshold = self.exact_max if exact_max is None else exact_max
            store = PgVectorStore(db, exact_search_max_rows=threshold)
            params: dict[str, Any] = {
                "ef_search": ef or self.ef,
                "exact_search_max_rows": threshold,
            }
            if iterative is not None:
                params["iterative_scan"] = iterative
            run = await measure_search(store, self.vs, self.ids, name=name, params=params, **kw)
        finally:
            await db.close()
        self.runs.append(run)
        self.tick()
        return run

    async def sql_run(
        self, name: str, stmt: sql.Composed, ef: int | None = None, **kw: Any
    ) -> SearchRun:
        db = await self.db(ef)
        try:
            params = {"ef_search": ef or self.ef, "path": "plain SQL"}
            run = await measure_sql(db, self.vs, self.ids, stmt, name=name, params=params, **kw)
        finally:
            await db.close()
        self.runs.append(run)
        self.tick()
        return run

    async def build(self, create: sql.Composed) -> float:
        db = await self.db(gucs=f"-c maintenance_work_mem={BUILD_MEMORY}")
        try:
            t0 = time.perf_counter()
            async with db.connection() as conn:
                await conn.execute(create)
            return round(time.perf_counter() - t0, 2)
        finally:
            await db.close()

    async def drop(self, *names: str) -> None:
        db = await self.db()
        try:
            async with db.connection() as conn:
                for name in names:
                    await conn.execute(
                        sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name))
                    )
        finally:
            await db.close()


def _path(rows: int, exact_max: int) -> str:
    return "exact scan" if rows <= exact_max else "HNSW, iterative scan (relaxed_order)"


def _create_hnsw(
    name: str, dim: int, *, half: bool = False, collection: int | None = None, build: str
) -> sql.Composed:
    """``CREATE INDEX`` of an HNSW cosine index on the synthetic rows."""
    expr = (
        "(embedding::halfvec({d})) halfvec_cosine_ops"
        if half
        else ("(embedding::vector({d})) vector_cosine_ops")
    )
    where: sql.Composable = sql.SQL("")
    if collection is not None:
        where = sql.SQL(" AND collection = {}").format(sql.Literal(collection_name(collection)))
    return sql.SQL(
        "CREATE INDEX {n} ON kb_chunks USING hnsw (" + expr + ") WITH ({b})"
        " WHERE embedding_model = {m}{w}"
    ).format(
        n=sql.Identifier(name),
        d=sql.Literal(dim),
        b=sql.SQL(build),
        m=sql.Literal(SYNTHETIC_MODEL),
        w=where,
    )


async def _store_index(d: _Designs, facts: dict[str, Any]) -> str:
    """Build the store's index through ``ensure_index`` and record what it is."""
    label = "Building the HNSW index (ensure_index)"
    if d.progress is not None:
        d.progress(label, 0, None)
    db = await d.db(gucs=f"-c maintenance_work_mem={BUILD_MEMORY}")
    try:
        t0 = time.perf_counter()
        name = await PgVectorStore(db).ensure_index(SYNTHETIC_MODEL, d.dim)
        facts["hnsw_build_s"] = round(time.perf_counter() - t0, 2)
        facts["hnsw_index_mb"] = await relation_mb(db, name)
        facts["table_mb"] = await relation_mb(db, "kb_chunks")
        async with db.connection() as conn:
            row = await (
                await conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,))
            ).fetchone()
            found = re.search(r"WITH \((.*?)\)", row[0] if row else "")
            facts["hnsw_params"] = found.group(1) if found else "pgvector defaults"
            for guc in ("shared_buffers", "max_parallel_maintenance_workers"):
                shown = await (
                    await conn.execute(sql.SQL("SHOW {}").format(sql.SQL(guc)))
                ).fetchone()
                facts[guc] = shown[0] if shown else "?"
    finally:
        await db.close()
    facts["maintenance_work_mem"] = BUILD_MEMORY
    if d.progress is not None:
        d.progress(label, 1, 1)
    return name


async def _paths(d: _Designs, small: list[int], topic: bool) -> None:
    """Other ef_search values and every filtered path, on the store's index."""
    big, topical, rows = 0, d.vs.topical_collection, np.bincount(d.vs.collections)
    for ef in (e for e in (40, 64, 200) if e != d.ef):
        await d.store_run(f"unfiltered, ef_search={ef}", ef=ef)
    await d.store_run(
        f"filtered 10 %, exact scan (previous rule: <= {PREVIOUS_EXACT_MAX_ROWS:,} rows)",
        collection=big,
        exact_max=_ALWAYS_EXACT,
    )
    for mode in ("relaxed_order", "strict_order", "off"):
        await d.store_run(
            f"filtered 10 %, HNSW, iterative_scan={mode}",
            collection=big,
            exact_max=_NEVER_EXACT,
            iterative=mode,
        )
    for ef in (40, 200):
        await d.store_run(
            f"filtered 10 %, HNSW relaxed_order, ef_search={ef}",
            collection=big,
            ef=ef,
            exact_max=_NEVER_EXACT,
        )
    for c in small:
        share = f"{100 * rows[c] / len(d.vs.vectors):.0f} %"
        await d.store_run(f"filtered {share}, exact scan", collection=c, exact_max=_ALWAYS_EXACT)
        await d.store_run(
            f"filtered {share}, HNSW relaxed_order", collection=c, exact_max=_NEVER_EXACT
        )
    if topic:
        await d.store_run(
            "topical collection, on-topic queries, store design",
            collection=topical,
            query_mask=d.vs.on_topic(),
        )
    await d.store_run("topical collection, all queries, store design", collection=topical)
    await d.store_run(
        "topical collection, all queries, exact scan", collection=topical, exact_max=_ALWAYS_EXACT
    )


async def _partial_indexes(d: _Designs, facts: dict[str, Any], topic: bool) -> None:
    """A partial HNSW index per large collection (the store would have to manage these)."""
    big, topical = 0, d.vs.topical_collection
    names = {c: f"bench_kb_partial_{c}" for c in (big, topical)}
    for c, name in names.items():
        create = _create_hnsw(name, d.dim, collection=c, build=HNSW_BUILD)
        facts[f"partial_index_build_s_{collection_name(c)}"] = await d.build(create)
    for ef in (40, d.ef):
        stmt = search_sql(d.dim, collection=big)
        await d.sql_run(
            f"filtered 10 %, partial HNSW index, ef_search={ef}", stmt, ef=ef, collection=big
        )
        if topic:
            await d.sql_run(
                f"topical, on-topic queries, partial HNSW index, ef_search={ef}",
                search_sql(d.dim, collection=topical),
                ef=ef,
                collection=topical,
                query_mask=d.vs.on_topic(),
            )
    await d.drop(*names.values())


async def _other_indexes(
    d: _Designs, store_index: str, facts: dict[str, Any], *, halfvec: bool
) -> None:
    """An index with pgvector's default build, then (``halfvec``) a halfvec index, each alone."""
    await d.drop(store_index)
    default = "bench_kb_efc64"
    facts["efc64_build_s"] = await d.build(
        _create_hnsw(default, d.dim, build=PGVECTOR_DEFAULT_BUILD)
    )
    for ef in sorted({40, d.ef}):
        await d.store_run(f"unfiltered, {PGVECTOR_DEFAULT_BUILD}, ef_search={ef}", ef=ef)
    await d.store_run(
        f"filtered 10 %, {PGVECTOR_DEFAULT_BUILD}, ef_search={d.ef}",
        collection=0,
        exact_max=_NEVER_EXACT,
    )
    await d.drop(default)
    if not halfvec:
        return
    half = "bench_kb_halfvec"
    facts["halfvec_build_s"] = await d.build(_create_hnsw(half, d.dim, half=True, build=HNSW_BUILD))
    info = await d.db()
    try:
        facts["halfvec_index_mb"] = await relation_mb(info, half)
    finally:
        await info.close()
    await d.sql_run(f"unfiltered, halfvec index, ef_search={d.ef}", search_sql(d.dim, halfvec=True))
    await d.sql_run(
        f"filtered 10 %, halfvec index, ef_search={d.ef}",
        search_sql(d.dim, collection=0, halfvec=True),
        collection=0,
    )
    await d.drop(half)


async def run_search(
    url: str,
    vs: VectorSet,
    ids: npt.NDArray[np.int64],
    *,
    ef_search: int,
    exact_max_rows: int,
    halfvec: bool = False,
    progress: Progress | None = None,
) -> SearchResults:
    """Build the store's index, measure its design, then every alternative.

    Args:
        url: Scratch database holding the vectors (:func:`load_vectors`).
        vs: The vectors and queries.
        ids: Chunk ids of the vectors.
        ef_search: The configured ``hnsw.ef_search``.
        exact_max_rows: The configured ``exact_search_max_rows``.
        halfvec: Also build and measure a halfvec index (about a minute on 2 cores).
        progress: Progress callback.

    Returns:
        The store's figures, the alternatives and the facts (build time, sizes, buffers).
    """
    d = _Designs(url, vs, ids, ef_search, exact_max_rows, progress)
    rows = np.bincount(vs.collections)
    facts: dict[str, Any] = {"vectors": len(vs.vectors), "queries": len(vs.queries)}
    name = await _store_index(d, facts)

    small = [c for c in (1, 2, 3, 4) if c < len(rows)]
    topic = bool(vs.on_topic().sum() >= 2)  # tiny runs may have no on-topic query
    efs = len([e for e in (40, 64, 200) if e != ef_search])
    paths = efs + 6 + 2 * len(small) + 2 + topic
    d.steps = 2 + paths + 2 * (1 + topic) + len({40, ef_search}) + 1 + 2 * halfvec
    d.label = f"Searching {len(vs.vectors):,} vectors"

    # The build leaves shared_buffers cold (it writes through a small ring of buffers): run
    # every query once first, so that the store's design is measured in the steady state the
    # alternatives after it find.
    unfiltered = await d.store_run("store design, unfiltered", warmup=len(vs.queries))
    filtered = await d.store_run("store design, filtered 10 %", collection=0)
    unfiltered.params["path"] = "HNSW"
    filtered.params["path"] = _path(int(rows[0]), exact_max_rows)
    d.runs.clear()  # the store's own runs are the scenarios, not alternatives
    await _paths(d, small, topic)
    info = await d.db()
    try:
        facts["buffers_unfiltered"] = await buffer_profile(info, vs, d.dim)
    finally:
        await info.close()
    await _partial_indexes(d, facts, topic)
    await _other_indexes(d, name, facts, halfvec=halfvec)
    return SearchResults(unfiltered, filtered, list(d.runs), facts)
