"""Ingestion: files → documents → chunks → embeddings → pgvector, through WF-KB-DEV.

One job per run (``kb_ingest_jobs``). Each file is independent: a file that fails is recorded
and the rest go on. An unchanged file (same content, chunker settings and embedding model) writes
nothing. A new or changed file is written in one transaction — document row, every workflow
step up to ``embedding_creation``, the chunk swap and the final ``embeddings_created`` — so
readers see either the old chunks or the new ones, never a mix or a gap.

Throughput: chunks of several files are embedded together in batches of the embedder's batch
size, so small files do not pay for small batches (``grace bench knowledge`` compares the
end-to-end rate with the raw encode rate of the same model).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import numpy as np

from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import WorkflowError
from knowledge.chunking.base import Chunker
from knowledge.chunking.defaults import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNKER
from knowledge.documents import DocumentRecord, DocumentRepository
from knowledge.embedding.base import Embedder, Matrix
from knowledge.jobs import JobRecord, JobRepository
from knowledge.lifecycle import (
    ARCHIVED_REFUSAL,
    ARCHIVED_STATE,
    EMBEDDED_EVENT,
    KB_WORKFLOW,
    SERVABLE_STATES,
    LifecycleError,
    actor_for,
    path_to_embedding,
)
from knowledge.loaders.base import LoaderError
from knowledge.sources import Discovered, open_sources
from knowledge.store.base import DocumentRef
from knowledge.store.pgvector import PgVectorStore
from knowledge.types import Chunk, SourceDocument

Outcome = Literal["created", "updated", "unchanged", "failed"]


@dataclass(frozen=True)
class IngestOptions:
    """How to ingest.

    The chunker defaults are :mod:`knowledge.chunking.defaults`' (``structured``, 500
    characters, 80 of overlap: the best of the chunkers measured on the Atlas eval set's dev
    split; the source is in that module).

    Attributes:
        collection: Collection the documents join.
        chunker: One of :data:`knowledge.chunking.defaults.CHUNKER_NAMES`.
        chunk_size: Maximum chunk length in characters.
        chunk_overlap: Characters shared by neighbouring chunks (where the chunker overlaps).
        operator: The person running the ingest; recorded as ``human:<operator>`` on the
            approval steps.
        roots: Folders every file must resolve under (symlinks followed), checked again when
            the job runs; a file outside them is refused and reported on the job. ``None``
            (the CLI: the operator picks local paths) checks nothing.
        reactivate: Give an archived document a new lifecycle (``grace ingest --reactivate``,
            ``"reactivate": true`` in the API). Without it an archived document stays archived
            and its file is reported as refused: reactivation is a staff decision.
    """

    collection: str = "default"
    chunker: str = DEFAULT_CHUNKER
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    operator: str = "operator"
    roots: tuple[str, ...] | None = None
    reactivate: bool = False


@dataclass(frozen=True)
class FileResult:
    """What happened to one file."""

    source: str
    outcome: Outcome
    chunks: int = 0
    document_id: UUID | None = None
    error: str | None = None


ProgressFn = Callable[[FileResult, int, int], None]


@dataclass
class _Pending:
    doc: SourceDocument
    chunks: list[Chunk]
    existing: DocumentRecord | None
    vectors: list[np.ndarray | None] = field(default_factory=list)


def fingerprint(doc: SourceDocument, options: IngestOptions, model: str) -> str:
    """Hash of everything that decides the stored chunks: text, chunker settings, model."""
    key = json.dumps(
        [doc.content_hash, doc.title, options.chunker, options.chunk_size,
         options.chunk_overlap, model],
    )  # fmt: skip
    return hashlib.sha256(key.encode()).hexdigest()


def embedding_text(doc: SourceDocument, chunk: Chunk) -> str:
    """The text embedded for ``chunk``: its title and heading path, then the chunk.

    Prefixing each chunk with where it sits in the document ("contextual chunk headers") lets
    a passage that never repeats its topic ("Deposit is kept") match questions about that
    topic; the stored and cited text stays the chunk itself. Chunks of the ``structured``
    chunker that carry ``metadata["statements"]`` (JSON transition lists, other JSON, tables)
    are embedded as those readable statements instead of the raw block.
    """
    path = [doc.title, *(h for h in chunk.heading_path if h != doc.title)]
    statements = chunk.metadata.get("statements")
    if statements and chunk.metadata.get("block") in ("transitions", "json"):
        # A structured block is embedded as its readable statements, not as raw JSON.
        return f"{' > '.join(path)}\n\n" + "\n".join(statements)
    if statements:  # prose with a table: the text plus one statement per row
        return f"{' > '.join(path)}\n\n{chunk.text}\n\n" + "\n".join(statements)
    return f"{' > '.join(path)}\n\n{chunk.text}"


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Ingestor:
    """Runs ingestion jobs.

    Args:
        db: The application database.
        embedder: Embeds chunk texts (its ``model`` is stored with every vector).
        chunker_factory: Builds the chunker for a set of options (default:
            :func:`knowledge.chunking.factory.make_chunker`).
        settings: Where ``supabase://`` sources are read from (default: the process
            settings, read when such a source is present).
    """

    def __init__(
        self,
        db: Database,
        embedder: Embedder,
        *,
        store: PgVectorStore | None = None,
        chunker_factory: Callable[[IngestOptions, Embedder], Chunker] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.db = db
        self.settings = settings  # Supabase Storage sources (None: the process settings)
        self.embedder = embedder
        self.engine = WorkflowEngine(db)
        self.store = store or PgVectorStore(db)
        self.documents = DocumentRepository(db, self.engine)
        self.jobs = JobRepository(db)
        self._chunker_factory = chunker_factory or _default_chunker
        self._batch = int(getattr(embedder, "batch_size", 64) or 64)

    async def ingest(
        self,
        paths: Sequence[str | Path],
        options: IngestOptions | None = None,
        *,
        progress: ProgressFn | None = None,
    ) -> JobRecord:
        """Create a job for ``paths`` (files or folders) and run it here, to the end.

        No job events, no cache invalidation: entry points use :mod:`knowledge.queue`.
        """
        from knowledge.queue import create_ingest_job

        options = options or IngestOptions()
        job_id = await create_ingest_job(self.db, paths, options)
        return await self.run_job(job_id, progress=progress)

    async def run_job(self, job_id: UUID, *, progress: ProgressFn | None = None) -> JobRecord:
        """Run a queued job; per-file failures are recorded, a crash marks the job failed."""
        job = await self.jobs.get(job_id)
        options = options_of(job)
        try:
            async with open_sources(job.paths, options.roots, settings=self.settings) as files:
                await self.jobs.start(job_id, len(files))
                chunker = self._chunker_factory(options, self.embedder)
                await self._run(job_id, files, options, chunker, progress)
        except Exception as exc:
            await self.jobs.finish(job_id, error=f"{type(exc).__name__}: {exc}")
            raise
        await self.jobs.finish(job_id)
        return await self.jobs.get(job_id)

    async def _run(
        self, job_id: UUID, files: list[Discovered], options: IngestOptions,
        chunker: Chunker, progress: ProgressFn | None,
    ) -> None:  # fmt: skip
        total, done = len(files), 0
        pending: list[_Pending] = []

        async def report(result: FileResult) -> None:
            nonlocal done
            done += 1
            if result.outcome == "failed":
                await self.jobs.record(
                    job_id, failed={"source": result.source, "error": result.error or ""}
                )
            elif result.outcome == "unchanged":
                await self.jobs.record(job_id, skipped=1)
            else:
                await self.jobs.record(job_id, done=1, chunks=result.chunks)
            if progress is not None:
                progress(result, done, total)

        async def flush() -> None:
            for result in await self._embed_and_write(pending, options, job_id):
                await report(result)
            pending.clear()

        for item in files:
            if isinstance(item, LoaderError):
                await report(FileResult(item.path, "failed", error=item.reason))
                continue
            try:
                doc = await item.load(options.collection)  # local file or Storage object
                prepared = await self._prepare(doc, options, chunker)
            except (LoaderError, LifecycleError, ValueError) as exc:
                await report(FileResult(str(item), "failed", error=str(exc)))
                continue
            if isinstance(prepared, FileResult):
                await report(prepared)
                continue
            pending.append(prepared)
            if sum(len(p.chunks) for p in pending) >= self._batch:
                await flush()
        await flush()

    async def _prepare(
        self, doc: SourceDocument, options: IngestOptions, chunker: Chunker
    ) -> _Pending | FileResult:
        existing = await self.documents.find_by_source(doc.collection, doc.source)
        if existing and existing.state == ARCHIVED_STATE and not options.reactivate:
            return FileResult(doc.source, "failed", error=ARCHIVED_REFUSAL)
        fp = fingerprint(doc, options, self.embedder.model)
        if existing and existing.fingerprint == fp and existing.state in SERVABLE_STATES:
            return FileResult(doc.source, "unchanged", existing.chunks, existing.id)
        chunks = await asyncio.to_thread(chunker.chunk, doc)
        if not chunks:
            return FileResult(doc.source, "failed", error="no text to index")
        return _Pending(doc, chunks, existing)

    async def _embed_and_write(
        self, pending: list[_Pending], options: IngestOptions, job_id: UUID
    ) -> list[FileResult]:
        if not pending:
            return []
        model = self.embedder.model
        # Create the model's index before any write transaction takes locks on kb_chunks.
        await self.store.ensure_index(model, self.embedder.dimension)
        texts = [embedding_text(p.doc, c) for p in pending for c in p.chunks]
        hashes = [_text_hash(t) for t in texts]
        cached = await self.store.vectors_for_hashes(model, sorted(set(hashes)))
        missing = sorted({h for h in hashes if h not in cached})
        if missing:
            first_text = {h: t for h, t in zip(hashes, texts, strict=True)}
            fresh = await asyncio.to_thread(
                self.embedder.embed_documents, [first_text[h] for h in missing]
            )
            cached.update(zip(missing, fresh, strict=True))
        results, pos = [], 0
        for p in pending:
            n = len(p.chunks)
            vectors = np.stack([cached[h] for h in hashes[pos : pos + n]]).astype(np.float32)
            pos += n
            try:
                results.append(
                    await self._write(p, vectors, hashes[pos - n : pos], options, job_id)
                )
            except (WorkflowError, LifecycleError) as exc:
                results.append(FileResult(p.doc.source, "failed", error=str(exc)))
        return results

    async def _write(
        self,
        p: _Pending,
        vectors: Matrix,
        text_hashes: list[str],
        options: IngestOptions,
        job_id: UUID,
    ) -> FileResult:
        doc, op = p.doc, options.operator
        fp = fingerprint(doc, options, self.embedder.model)
        payload = {"job": str(job_id)}
        kb = self.engine.catalog.get(KB_WORKFLOW)
        outcome: Outcome
        async with self.db.connection() as conn, conn.transaction():
            await self.documents.lock_source(conn, doc.collection, doc.source)  # concurrent jobs
            existing = await self.documents.find_by_source(doc.collection, doc.source, conn=conn)
            archived = existing is not None and existing.state == ARCHIVED_STATE
            if archived and not options.reactivate:  # archived since _prepare looked
                raise LifecycleError(ARCHIVED_REFUSAL)
            if existing is not None and existing.state != ARCHIVED_STATE:
                doc_id, outcome = existing.id, "updated"
                assert existing.workflow_instance_id is not None
                instance_id, state = existing.workflow_instance_id, existing.state
                await self.documents.update_content(conn, doc_id, doc, fp)
            else:
                doc_id = existing.id if existing else uuid.uuid4()
                outcome = "updated" if existing else "created"
                inst = await self.engine.start(
                    KB_WORKFLOW, f"document:{doc_id}", actor=f"human:{op}",
                    data={"source": doc.source, "collection": doc.collection}, conn=conn,
                )  # fmt: skip
                instance_id, state = inst.id, inst.state
                if existing:  # archived, reactivated by staff: a fresh lifecycle
                    await self.documents.update_content(conn, doc_id, doc, fp, inst.id)
                else:
                    await self.documents.insert(
                        conn, document_id=doc_id, doc=doc, fingerprint=fp, state=state,
                        instance_id=instance_id,
                    )  # fmt: skip
            for t in path_to_embedding(kb, state):
                await self.engine.apply(
                    instance_id, t.event, actor_for(t, op), payload=payload, conn=conn
                )
            ref = DocumentRef(doc_id, doc.collection, doc.source, doc.title, doc.content_type)
            written = await self.store.replace_chunks(
                ref, p.chunks, vectors, model=self.embedder.model, conn=conn,
                text_hashes=text_hashes,
            )  # fmt: skip
            await self.engine.apply(
                instance_id, EMBEDDED_EVENT, "atlas", payload=payload, conn=conn
            )
        return FileResult(doc.source, outcome, written, doc_id)


def job_params(options: IngestOptions) -> dict[str, Any]:
    """The ``params`` a job records for ``options`` (read back by :func:`options_of`)."""
    params: dict[str, Any] = {
        "chunk_size": options.chunk_size, "chunk_overlap": options.chunk_overlap,
    }  # fmt: skip
    if options.roots is not None:
        params["roots"] = list(options.roots)
    if options.reactivate:
        params["reactivate"] = True
    return params


def options_of(job: JobRecord) -> IngestOptions:
    """The options a recorded job runs with (its columns and :func:`job_params`; defaults)."""
    roots = job.params.get("roots")
    return IngestOptions(
        collection=job.collection,
        chunker=job.chunker,
        chunk_size=int(job.params.get("chunk_size", DEFAULT_CHUNK_SIZE)),
        chunk_overlap=int(job.params.get("chunk_overlap", DEFAULT_CHUNK_OVERLAP)),
        operator=job.operator,
        roots=tuple(str(r) for r in roots) if roots is not None else None,
        reactivate=job.params.get("reactivate") is True,
    )


def _default_chunker(options: IngestOptions, embedder: Embedder) -> Chunker:
    from knowledge.chunking.factory import make_chunker

    chunker: Chunker = make_chunker(
        options.chunker,
        chunk_size=options.chunk_size,
        chunk_overlap=options.chunk_overlap,
        embedder=embedder,
    )
    return chunker
