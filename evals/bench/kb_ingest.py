"""Model-bound parts of ``grace bench knowledge``: ingestion throughput and end-to-end retrieval.

Ingestion runs the real :class:`~knowledge.ingest.Ingestor` (load, chunk, embed, WF-KB-DEV
transitions, chunk writes) over a generated corpus and compares its rate with
:func:`plain_encode_rate` of the same model (ONNX or sentence-transformers) on the same chunk
texts.
Retrieval runs :meth:`Retriever.retrieve` (query embedding + hybrid search) over that corpus.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.bench.kb_data import questions, write_corpus
from evals.bench.kb_search import Progress
from graphs.core.database import Database
from knowledge.embedding.base import Embedder, Matrix, Vector
from knowledge.embedding.local import (
    EmbedderConfigurationError,
    SentenceTransformerEmbedder,
    raw_encode_rate,
)
from knowledge.embedding.onnx import OnnxEncoder
from knowledge.ingest import FileResult, IngestOptions, Ingestor, embedding_text
from knowledge.retriever import Retriever
from knowledge.store.pgvector import PgVectorStore

#: Collection the generated corpus is ingested into.
BENCH_COLLECTION = "bench-handbook"


LocalModel = SentenceTransformerEmbedder | OnnxEncoder


def local_model(embedder: Embedder) -> LocalModel:
    """The local model inside ``embedder`` (unwrapping the caches): ONNX or sentence-transformers.

    Raises:
        EmbedderConfigurationError: another backend (e.g. OpenAI) is configured.
    """
    inner: Any = embedder
    while getattr(inner, "inner", None) is not None:
        inner = inner.inner
    if not isinstance(inner, SentenceTransformerEmbedder | OnnxEncoder):
        raise EmbedderConfigurationError(
            "grace bench knowledge measures the local embedding model; "
            "set GRACE_EMBEDDING_PROVIDER=local"
        )
    return inner


def plain_encode_rate(model: LocalModel, texts: Sequence[str]) -> float:
    """Texts per second of the model's own batch encode (no cache, no ingestion around it).

    sentence-transformers: :func:`~knowledge.embedding.local.raw_encode_rate`; ONNX: one
    ``embed_documents`` call after an untimed first batch.
    """
    if isinstance(model, SentenceTransformerEmbedder):
        return raw_encode_rate(model, texts)
    items = list(texts)
    if not items:
        raise ValueError("plain_encode_rate needs at least one text")
    model.embed_documents(items[: model.batch_size])
    start = time.perf_counter()
    model.embed_documents(items)
    return len(items) / (time.perf_counter() - start)


class TimedEmbedder:
    """Forwards to an embedder and records each ``embed_documents`` call.

    Attributes:
        calls: Seconds of every ``embed_documents`` call.
        starts: ``time.perf_counter()`` at the start of every call.
        texts: Every text embedded, in call order (what the ingestor really encodes).
        sizes: Texts per call.
    """

    def __init__(self, inner: Embedder, batch_size: int) -> None:
        self.inner = inner
        self.model = inner.model
        self.dimension = inner.dimension
        self.batch_size = batch_size
        self.calls: list[float] = []
        self.starts: list[float] = []
        self.texts: list[str] = []
        self.sizes: list[int] = []

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Embed through the wrapped embedder, timing the call."""
        t0 = time.perf_counter()
        self.starts.append(t0)
        out = self.inner.embed_documents(texts)
        self.calls.append(time.perf_counter() - t0)
        self.texts.extend(texts)
        self.sizes.append(len(texts))
        return out

    def embed_query(self, text: str) -> Vector:
        """Embed one query through the wrapped embedder."""
        return self.inner.embed_query(text)


@dataclass
class IngestRun:
    """Figures of one ingestion.

    Attributes:
        chunks: Chunks written.
        files: Files written.
        seconds: Wall time of the ingest job (model already loaded).
        raw_rates: Raw encode rates (texts/s) of the same model on the same texts, measured
            just before and just after the ingest (the machine's load may drift).
        grouped_rate: Raw encode rate with the ingestor's grouping: one ``encode`` call per
            flush, as the ingestor makes them (sentence-transformers sorts by length only
            within a call, so smaller calls pad more).
        embed_seconds: Time spent inside ``embed_documents`` during the ingest.
        flushes: Seconds of each flush cycle: from the start of one ``embed_documents`` call
            (one per flush of >= ``batch_size`` chunks) to the start of the next, the last one
            to the end of the job; so embedding, writing, and loading and chunking the next
            files.
        params: Corpus and model facts.
    """

    chunks: int
    files: int
    seconds: float
    raw_rates: tuple[float, float]
    grouped_rate: float
    embed_seconds: float
    flushes: list[float] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_rate(self) -> float:
        """Mean of the two raw encode rates."""
        return sum(self.raw_rates) / 2

    @property
    def rate(self) -> float:
        """Chunks per second, end to end."""
        return self.chunks / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        """Ingestion rate / raw encode rate."""
        return self.rate / self.raw_rate if self.raw_rate else 0.0


def embedded_texts(folder: Path, options: IngestOptions, embedder: Embedder) -> list[str]:
    """What the ingestor will encode for ``folder``: load, chunk, add the chunk headers."""
    from knowledge.chunking.factory import make_chunker
    from knowledge.loaders.registry import load_path

    chunker = make_chunker(
        options.chunker,
        chunk_size=options.chunk_size,
        chunk_overlap=options.chunk_overlap,
        embedder=embedder,
    )
    out: list[str] = []
    for path in sorted(folder.glob("*.md")):
        doc = load_path(path, collection=options.collection)
        out += [embedding_text(doc, c) for c in chunker.chunk(doc)]
    return out


async def run_ingest(
    db: Database,
    embedder: Embedder,
    *,
    files: int,
    chunks: int,
    progress: Progress | None = None,
) -> IngestRun:
    """Ingest a generated corpus end to end, then time a raw encode of the same chunk texts.

    Args:
        db: Scratch database (the corpus must not be there yet).
        embedder: The configured embedder, model loaded (``make_embedder``).
        files: Markdown files to generate.
        chunks: Paragraphs (= chunks) to generate.
        progress: Progress callback.

    Returns:
        The ingestion figures.
    """
    model = local_model(embedder)
    timed = TimedEmbedder(embedder, model.batch_size)
    options = IngestOptions(collection=BENCH_COLLECTION, operator="bench")
    raw_label = "Raw encode of the same texts (before, after, as flushed)"
    with tempfile.TemporaryDirectory(prefix="grace-bench-kb-") as tmp:
        write_corpus(Path(tmp), files=files, chunks=chunks, chunk_size=options.chunk_size)
        planned = await asyncio.to_thread(embedded_texts, Path(tmp), options, embedder)
        _report(progress, raw_label, 0, 3)
        before = await asyncio.to_thread(plain_encode_rate, model, planned)
        _report(progress, raw_label, 1, 3)

        label = f"Ingesting {files} files ({len(planned)} chunks)"

        def on_file(result: FileResult, done: int, total: int) -> None:
            _report(progress, label, done, total)

        ingestor = Ingestor(db, timed, store=PgVectorStore(db))
        load = _load()
        t0 = time.perf_counter()
        job = await ingestor.ingest([tmp], options, progress=on_file)
        end = time.perf_counter()
        seconds = end - t0
        load += f"/{_load()}"
    if job.files_failed:
        raise RuntimeError(f"bench ingest failed: {job.errors}")
    after = await asyncio.to_thread(plain_encode_rate, model, timed.texts)
    _report(progress, raw_label, 2, 3)
    grouped = await asyncio.to_thread(_grouped_rate, model, timed.texts, timed.sizes)
    _report(progress, raw_label, 3, 3)
    return IngestRun(
        chunks=job.chunks_written,
        files=job.files_done,
        seconds=seconds,
        raw_rates=(before, after),
        grouped_rate=grouped,
        embed_seconds=sum(timed.calls),
        flushes=[b - a for a, b in zip(timed.starts, [*timed.starts[1:], end], strict=True)],
        params={
            "model": model.model,
            "batch_size": model.batch_size,
            "device": model.device,
            "backend": "onnx" if isinstance(model, OnnxEncoder) else "sentence-transformers",
            "chunker": f"{options.chunker} <= {options.chunk_size} chars",
            "mean_embedded_chars": round(sum(map(len, timed.texts)) / max(1, len(timed.texts))),
            "same_texts_as_planned": sorted(planned) == sorted(timed.texts),
            "flushes": len(timed.calls),
            "chunks_per_flush": round(len(timed.texts) / max(1, len(timed.calls)), 1),
            "load_1m_before_after_ingest": load,
        },
    )


def _grouped_rate(model: LocalModel, texts: list[str], sizes: list[int]) -> float:
    """Texts per second of plain encode calls over ``texts`` cut into calls of ``sizes``."""
    pos, calls = 0, []
    for n in sizes:
        calls.append(texts[pos : pos + n])
        pos += n
    if isinstance(model, SentenceTransformerEmbedder):
        st = model.load()
        t0 = time.perf_counter()
        for call in calls:
            st.encode(call, batch_size=model.batch_size, show_progress_bar=False)
        return len(texts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for call in calls:
        model.embed_documents(call)
    return len(texts) / (time.perf_counter() - t0)


def _load() -> str:
    """The 1-minute load average (other processes skew every rate measured here)."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"


def _report(progress: Progress | None, label: str, done: float, total: float | None) -> None:
    if progress is not None:
        progress(label, done, total)


@dataclass
class RetrieveRun:
    """Query embedding alone and full retrieval latencies.

    Attributes:
        embed_seconds: ``embed_query`` of the model alone, per query (no cache).
        retrieve_seconds: :meth:`Retriever.retrieve` per query (embedding + hybrid search).
        passages: Mean passages returned per query.
    """

    embed_seconds: list[float]
    retrieve_seconds: list[float]
    passages: float


async def run_retrieve(
    db: Database,
    embedder: Embedder,
    *,
    queries: int,
    exact_search_max_rows: int,
    progress: Progress | None = None,
) -> RetrieveRun:
    """Time query embedding, then ``Retriever.retrieve`` with the same (uncached) questions.

    The embedder's in-process cache never holds the measured questions: the embedding-only
    pass goes to the model directly, and warm-up uses other questions.

    Args:
        db: The database holding the ingested corpus.
        embedder: The configured (cached) embedder, model loaded.
        queries: Measured questions.
        exact_search_max_rows: The store setting.
        progress: Progress callback.
    """
    model = local_model(embedder)
    asked = questions(queries + 10)
    warm, measured = asked[:10], asked[10:]
    retriever = Retriever(PgVectorStore(db, exact_search_max_rows=exact_search_max_rows), embedder)
    for q in warm:
        await retriever.retrieve(q)
    label = f"Query embedding + retrieval ({queries} questions)"
    embed_s: list[float] = []
    for i, q in enumerate(measured):
        t0 = time.perf_counter()
        await asyncio.to_thread(model.embed_query, q)
        embed_s.append(time.perf_counter() - t0)
        if progress is not None:
            progress(label, i + 1, 2 * len(measured))
    retrieve_s: list[float] = []
    found = 0
    for i, q in enumerate(measured):
        t0 = time.perf_counter()
        passages = await retriever.retrieve(q)
        retrieve_s.append(time.perf_counter() - t0)
        found += len(passages)
        if progress is not None:
            progress(label, len(measured) + i + 1, 2 * len(measured))
    return RetrieveRun(embed_s, retrieve_s, found / max(1, len(measured)))
