"""``grace bench knowledge``: ingestion throughput, vector search and end-to-end retrieval.

Scenarios:
    ingest: a generated handbook corpus (about 400 chunk-sized paragraphs in 40 markdown files)
        through :class:`~knowledge.ingest.Ingestor` end to end; chunks/s compared with the raw
        encode rate of the same model on the same chunk texts (target >= 80 %).
    search_unfiltered: 100k clustered 384-d unit vectors, 200 held-out queries through
        :meth:`PgVectorStore.search`; p50 and recall@10 against an exact numpy scan (target
        p50 < 3 ms, recall@10 >= 0.98).
    search_filtered_10pct: the same filtered to the collection holding 10 % of the rows (target
        p50 < 8 ms, recall@10 >= 0.95).
    query_embedding: ``embed_query`` of the model alone (all-MiniLM-L6-v2 by default).
    retrieve_e2e: :meth:`Retriever.retrieve` (query embedding + hybrid search) on the ingested
        corpus.

The alternatives the store's design was chosen over are measured in the same run and listed in
the report (see :mod:`evals.bench.kb_designs`).
"""

from __future__ import annotations

import asyncio
import os
import statistics
from dataclasses import dataclass, field
from typing import Any

from evals.bench.kb_data import clustered_vectors
from evals.bench.kb_designs import SearchResults, run_search
from evals.bench.kb_ingest import (
    BENCH_COLLECTION,
    IngestRun,
    RetrieveRun,
    local_model,
    run_ingest,
    run_retrieve,
)
from evals.bench.kb_search import Progress, SearchRun, load_vectors, remove_synthetic
from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts
from evals.scratch import drop_database, recreate_database
from graphs.core.database import Database
from graphs.core.settings import Settings

INGEST_RATIO_TARGET = 0.80
UNFILTERED_TARGET = (3.0, 0.98)  # p50 ms, recall@10
FILTERED_TARGET = (8.0, 0.95)
#: Scratch database recreated on the embedded server for each run (dropped afterwards).
SCRATCH_DATABASE = "grace_bench_kb"


@dataclass
class KnowledgeBenchReport(BenchReport):
    """A :class:`BenchReport` that also lists the alternatives measured in the same run.

    Attributes:
        alternatives: One dict per configuration: ``name``, ``p50_ms``, ``p95_ms``,
            ``recall_at_10`` and its parameters.
    """

    alternatives: list[dict[str, Any]] = field(default_factory=list)

    def markdown(self) -> str:
        """Scenarios (with recall), alternatives and environment as Markdown."""
        lines = [
            f"# grace bench {self.benchmark} — {self.started_at}",
            "",
            "| scenario | ops/s | p50 ms | p95 ms | p99 ms | recall@10 | target | met |",
            "|---|---:|---:|---:|---:|---:|---|---|",
        ]
        for s in self.scenarios:
            met = "" if s.met is None else ("yes" if s.met else "NO")
            recall = s.params.get("recall_at_10", "")
            lines.append(
                f"| {s.name} | {s.throughput_per_s:,.1f} | {s.latency.p50_ms} | "
                f"{s.latency.p95_ms} | {s.latency.p99_ms} | {recall} | {s.target or ''} | {met} |"
            )
        if self.alternatives:
            lines += [
                "",
                "## Alternatives (same data, same queries)",
                "",
                "| configuration | p50 ms | p95 ms | recall@10 | rows | queries | details |",
                "|---|---:|---:|---:|---:|---:|---|",
            ]
            skip = {"name", "p50_ms", "p95_ms", "recall_at_10", "rows", "queries"}
            for a in self.alternatives:
                details = ", ".join(f"{k}={v}" for k, v in a.items() if k not in skip)
                lines.append(
                    f"| {a['name']} | {a['p50_ms']} | {a['p95_ms']} | {a['recall_at_10']} | "
                    f"{a.get('rows', '')} | {a.get('queries', '')} | {details} |"
                )
        lines += ["", "Environment: " + ", ".join(f"{k}={v}" for k, v in self.environment.items())]
        return "\n".join(lines) + "\n"


def _summary(seconds: list[float]) -> LatencySummary:
    if len(seconds) >= 2:
        return LatencySummary.from_seconds(seconds)
    ms = round(1000 * seconds[0], 3) if seconds else 0.0
    return LatencySummary(len(seconds), ms, ms, ms, ms, ms)


def _rate(seconds: list[float]) -> float:
    return round(1 / statistics.fmean(seconds), 1) if seconds else 0.0


def _search_scenario(
    name: str, run: SearchRun, target: tuple[float, float], label: str
) -> Scenario:
    lat = run.latency
    p50, recall = target
    return Scenario(
        name=name,
        throughput_per_s=_rate(run.seconds),
        latency=lat,
        params=dict(run.params, recall_at_10=round(run.recall, 4)),
        target=f"{label}p50 < {p50:g} ms, recall@10 >= {recall:g}",
        met=lat.p50_ms < p50 and run.recall >= recall,
    )


def _ingest_scenario(run: IngestRun) -> Scenario:
    before, after = run.raw_rates
    return Scenario(
        name="ingest",
        throughput_per_s=round(run.rate, 2),
        latency=_summary(run.flushes),
        params=dict(
            run.params,
            chunks=run.chunks,
            files=run.files,
            seconds=round(run.seconds, 2),
            raw_encode_per_s=round(run.raw_rate, 2),
            raw_encode_before_after=f"{before:.2f}/{after:.2f}",
            ratio_to_raw=round(run.ratio, 3),
            raw_encode_as_flushed_per_s=round(run.grouped_rate, 2),
            encode_in_ingest_per_s=round(run.chunks / run.embed_seconds, 2)
            if run.embed_seconds
            else 0.0,
            embed_seconds=round(run.embed_seconds, 2),
            outside_embedding_s=round(run.seconds - run.embed_seconds, 2),
            latency_of="one flush cycle of >= batch_size chunks (embed, write, next files)",
        ),
        target=f">= {INGEST_RATIO_TARGET:.0%} of raw encode ({run.raw_rate:.1f}/s)",
        met=run.ratio >= INGEST_RATIO_TARGET,
    )


def _retrieve_scenarios(run: RetrieveRun) -> list[Scenario]:
    return [
        Scenario(
            "query_embedding",
            _rate(run.embed_seconds),
            _summary(run.embed_seconds),
            {"queries": len(run.embed_seconds), "cache": "none (model called directly)"},
        ),
        Scenario(
            "retrieve_e2e",
            _rate(run.retrieve_seconds),
            _summary(run.retrieve_seconds),
            {
                "queries": len(run.retrieve_seconds),
                "hybrid": True,
                "k": 5,
                "candidates": 30,
                "passages_per_query": round(run.passages, 2),
            },
        ),
    ]


def _data_facts(settings: Settings, results: SearchResults, spread: float) -> dict[str, Any]:
    return {
        "vector_data": f"200 Gaussian clusters, spread {spread:g}, unit 384-d",
        "hnsw_ef_search": settings.hnsw_ef_search,
        "exact_search_max_rows": settings.exact_search_max_rows,
    } | results.facts


async def _clean(db: Database) -> None:
    """Remove what a run leaves in a shared database (``DATABASE_URL``)."""
    async with db.connection() as conn, conn.transaction():
        await remove_synthetic(conn)
        await conn.execute("DELETE FROM kb_documents WHERE collection = %s", (BENCH_COLLECTION,))


async def run_knowledge_bench(
    settings: Settings,
    *,
    vectors: int = 100_000,
    queries: int = 200,
    ingest: bool = True,
    chunks: int = 400,
    files: int = 40,
    halfvec: bool = False,
    progress: Progress | None = None,
) -> KnowledgeBenchReport:
    """Run the three parts and return the report.

    Args:
        settings: Where to run (embedded server: a scratch ``grace_bench_kb`` database is
            created and dropped; with ``DATABASE_URL`` the rows it adds are deleted at the end)
            and which model, ``hnsw_ef_search`` and ``exact_search_max_rows`` to use.
        vectors: Synthetic vectors for the search part.
        queries: Held-out query vectors, and questions for the end-to-end part.
        ingest: Also run ingestion and end-to-end retrieval (they load the model).
        chunks: Paragraphs (= chunks) of the generated corpus.
        files: Markdown files of the generated corpus.
        halfvec: Also measure a halfvec HNSW index (adds about a minute on 2 cores).
        progress: ``progress(label, completed, total)`` for long steps.

    Returns:
        The report: scenarios, alternatives and environment.
    """
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    url, embedded = await recreate_database(settings, SCRATCH_DATABASE)
    pool = settings.model_copy(update={"db_pool_min_size": 1, "db_pool_max_size": 2})
    db = await Database.connect(pool, url=url)
    scenarios: list[Scenario] = []
    env: dict[str, Any] = machine_facts()
    try:
        await _clean(db)
        async with db.connection() as conn:
            row = await (await conn.execute("SHOW server_version")).fetchone()
        env["postgres"] = row[0] if row else "?"
        env["database"] = "embedded (scratch)" if embedded else "DATABASE_URL"
        if ingest:
            from knowledge.embedding.factory import make_embedder

            embedder = make_embedder(settings)
            if progress is not None:
                progress("Loading the embedding model", 0, None)
            await asyncio.to_thread(local_model(embedder).warmup)
            if progress is not None:
                progress("Loading the embedding model", 1, 1)
            run = await run_ingest(db, embedder, files=files, chunks=chunks, progress=progress)
            scenarios.append(_ingest_scenario(run))
            retrieved = await run_retrieve(
                db,
                embedder,
                queries=queries,
                exact_search_max_rows=settings.exact_search_max_rows,
                progress=progress,
            )
            scenarios += _retrieve_scenarios(retrieved)
        if progress is not None:
            progress("Generating clustered vectors", 0, None)
        vs = await asyncio.to_thread(clustered_vectors, vectors, queries)
        if progress is not None:
            progress("Generating clustered vectors", 1, 1)
        ids = await load_vectors(db, vs, progress=progress)
        results = await run_search(
            url,
            vs,
            ids,
            ef_search=settings.hnsw_ef_search,
            exact_max_rows=settings.exact_search_max_rows,
            halfvec=halfvec,
            progress=progress,
        )
        scenarios[1:1] = [
            _search_scenario("search_unfiltered", results.unfiltered, UNFILTERED_TARGET, ""),
            _search_scenario(
                "search_filtered_10pct", results.filtered, FILTERED_TARGET, "10 % collection: "
            ),
        ]
        if not embedded:
            await _clean(db)
    finally:
        await db.close()
        if embedded:
            await drop_database(url, SCRATCH_DATABASE)
    env |= _data_facts(settings, results, vs.spread)
    if load_before is not None:
        env["load_avg_1m_before_after"] = f"{load_before:.2f}/{os.getloadavg()[0]:.2f}"
    return KnowledgeBenchReport(
        benchmark="knowledge",
        scenarios=scenarios,
        environment=env,
        alternatives=[r.brief() for r in results.alternatives],
    )
