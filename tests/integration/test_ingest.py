"""Ingestion end to end on real PostgreSQL + pgvector, with a fast deterministic embedder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agents.testing import HashingEmbedder
from graphs.core.database import Database
from graphs.workflows.engine import WorkflowEngine
from knowledge.documents import DocumentRepository
from knowledge.ingest import IngestOptions, Ingestor
from knowledge.lifecycle import ARCHIVED_REFUSAL
from knowledge.loaders.directory import OUTSIDE_ROOTS
from knowledge.retriever import RetrievalConfig, Retriever
from knowledge.store.base import SearchFilters
from knowledge.store.pgvector import PgVectorStore

pytestmark = pytest.mark.integration

REFUNDS = """# Refunds

## Wellness sessions

Deposits for wellness sessions are refunded in full when you cancel more than 36 hours ahead.

## Gallery purchases

Artworks can be returned within 14 days if they arrive damaged.
"""
MEMBERS = """# Memberships

## Tiers

The Studio tier costs 40 dollars a month and includes two guest passes.
"""
PRIVACY = """# Privacy

Client records are kept for seven years and can be exported on request within 30 days.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "refunds.md").write_text(REFUNDS)
    (root / "memberships.md").write_text(MEMBERS)
    (root / "privacy.txt").write_text(PRIVACY)
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    return root


@pytest.fixture
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dimension=1024)


@pytest.fixture
def ingestor(db: Database, embedder: HashingEmbedder) -> Ingestor:
    return Ingestor(db, embedder)


OPTS = IngestOptions(collection="handbook", chunker="paragraph", chunk_size=300, operator="ana")


async def _chunk_ids(db: Database) -> dict[str, list[int]]:
    async with db.connection() as c:
        rows = await (
            await c.execute("SELECT source, array_agg(id ORDER BY id) FROM kb_chunks GROUP BY 1")
        ).fetchall()
    return {Path(s).name: list(ids) for s, ids in rows}


async def _audit_count(db: Database) -> int:
    async with db.connection() as c:
        row = await (await c.execute("SELECT count(*) FROM workflow_audit")).fetchone()
    assert row is not None
    return int(row[0])


async def test_ingest_records_job_and_walks_the_workflow(
    db: Database, ingestor: Ingestor, corpus: Path
) -> None:
    seen: list[tuple[str, int, int]] = []
    job = await ingestor.ingest(
        [corpus, corpus / "missing.md"],
        OPTS,
        progress=lambda r, d, t: seen.append((r.outcome, d, t)),
    )
    assert job.status == "done"
    assert (job.files_total, job.files_done, job.files_failed, job.files_skipped) == (5, 3, 2, 0)
    assert {Path(e["source"]).name for e in job.errors} == {"broken.pdf", "missing.md"}
    assert job.chunks_written >= 4
    assert [d for _, d, _ in seen] == [1, 2, 3, 4, 5] and all(t == 5 for *_, t in seen)

    engine = WorkflowEngine(db)
    docs = await DocumentRepository(db, engine).list(collection="handbook")
    assert len(docs) == 3 and {d.state for d in docs} == {"active"}
    refunds = next(d for d in docs if d.source.endswith("refunds.md"))
    assert refunds.title == "Refunds" and refunds.chunks >= 2
    history = await engine.history(refunds.workflow_instance_id)  # type: ignore[arg-type]
    steps = [(h.event, h.actor) for h in history]
    assert steps[0] == ("start", "human:ana")
    assert ("topic_approved", "human:ana") in steps
    assert ("expert_approved", "human:ana") in steps
    assert ("research_complete", "atlas") in steps and ("draft_completed", "elan") in steps
    assert steps[-1] == ("embeddings_created", "atlas")
    assert all(h.payload.get("job") == str(job.id) for h in history[1:])


async def test_reingesting_unchanged_files_writes_nothing(
    db: Database, ingestor: Ingestor, embedder: HashingEmbedder, corpus: Path
) -> None:
    (corpus / "broken.pdf").unlink()
    await ingestor.ingest([corpus], OPTS)
    before_chunks, before_audit = await _chunk_ids(db), await _audit_count(db)
    calls_before = len(embedder.calls)
    job = await ingestor.ingest([corpus], OPTS)
    assert (job.files_done, job.files_skipped, job.chunks_written) == (0, 3, 0)
    assert await _chunk_ids(db) == before_chunks
    assert await _audit_count(db) == before_audit
    assert len(embedder.calls) == calls_before  # not even re-embedded


async def test_changed_file_replaces_its_chunks_and_reuses_vectors(
    db: Database, ingestor: Ingestor, embedder: HashingEmbedder, corpus: Path
) -> None:
    (corpus / "broken.pdf").unlink()
    await ingestor.ingest([corpus], OPTS)
    before = await _chunk_ids(db)
    changed = REFUNDS.replace("14 days", "21 days")
    (corpus / "refunds.md").write_text(changed)
    embedder.calls.clear()
    job = await ingestor.ingest([corpus], OPTS)
    assert (job.files_done, job.files_skipped) == (1, 2)
    after = await _chunk_ids(db)
    assert after["memberships.md"] == before["memberships.md"]
    assert set(after["refunds.md"]).isdisjoint(before["refunds.md"])
    # only the edited paragraph's text was embedded again; the others came from the store
    embedded = [t for call in embedder.calls for t in call]
    assert embedded and all("21 days" in t for t in embedded)

    engine = WorkflowEngine(db)
    doc = next(d for d in await DocumentRepository(db, engine).list() if d.title == "Refunds")
    assert doc.state == "active"
    events = [h.event for h in await engine.history(doc.workflow_instance_id)]  # type: ignore[arg-type]
    assert events.count("embeddings_created") == 2 and "updates_required" in events

    store = PgVectorStore(db)
    hits = await store.text_search("damaged artworks returned", k=5)
    assert any("21 days" in h.text for h in hits) and not any("14 days" in h.text for h in hits)


async def test_failed_write_keeps_the_old_version_served(
    db: Database, ingestor: Ingestor, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (corpus / "broken.pdf").unlink()
    await ingestor.ingest([corpus], OPTS)
    before = await _chunk_ids(db)
    audit_before = await _audit_count(db)
    (corpus / "refunds.md").write_text(REFUNDS + "\n## New section\n\nA brand new rule.\n")

    real_apply = ingestor.engine.apply

    async def failing_apply(instance_id: Any, event: str, actor: Any, *a: Any, **kw: Any) -> Any:
        if event == "embeddings_created":
            from graphs.workflows.errors import ConcurrentUpdateError

            raise ConcurrentUpdateError(instance_id, event)
        return await real_apply(instance_id, event, actor, *a, **kw)

    monkeypatch.setattr(ingestor.engine, "apply", failing_apply)
    job = await ingestor.ingest([corpus], OPTS)
    assert job.files_failed == 1 and job.status == "done"
    assert await _chunk_ids(db) == before  # the chunk swap was rolled back
    assert await _audit_count(db) == audit_before  # and so were the workflow steps
    hits = await PgVectorStore(db).text_search("deposits refunded wellness", k=3)
    assert hits and hits[0].source.endswith("refunds.md")


async def test_archived_documents_are_never_returned(
    db: Database, ingestor: Ingestor, embedder: HashingEmbedder, corpus: Path
) -> None:
    (corpus / "broken.pdf").unlink()
    await ingestor.ingest([corpus], OPTS)
    engine = WorkflowEngine(db)
    repo = DocumentRepository(db, engine)
    store = PgVectorStore(db)
    retriever = Retriever(store, embedder, RetrievalConfig(threshold=0.0))
    privacy = next(d for d in await repo.list() if d.source.endswith("privacy.txt"))
    query = "how long are client records kept"
    assert any(p.citation.source == privacy.source for p in await retriever.retrieve(query))

    archived = await repo.archive(privacy.id, operator="ana", reason="superseded")
    assert archived.state == "archived"
    assert all(p.citation.source != privacy.source for p in await retriever.retrieve(query, k=20))
    assert await store.count_chunks(SearchFilters(sources=(privacy.source,))) == 0
    hist = await engine.history(privacy.workflow_instance_id)  # type: ignore[arg-type]
    assert (hist[-1].event, hist[-1].actor, hist[-1].payload) == (
        "content_deprecated",
        "human:ana",
        {"reason": "superseded"},
    )

    # Ingesting the unchanged folder again leaves it archived: the file is reported, not served.
    job = await ingestor.ingest([corpus], OPTS)
    assert (job.files_done, job.files_skipped, job.files_failed) == (0, 2, 1)
    assert job.errors == [{"source": privacy.source, "error": ARCHIVED_REFUSAL}]
    still = await repo.get(privacy.id)
    assert (still.state, still.workflow_instance_id) == ("archived", archived.workflow_instance_id)
    assert all(p.citation.source != privacy.source for p in await retriever.retrieve(query, k=20))
    assert len(await engine.history(privacy.workflow_instance_id)) == len(hist)  # type: ignore[arg-type]

    # Reactivating is an explicit decision: a fresh lifecycle approved by that person.
    job = await ingestor.ingest([corpus], replace(OPTS, operator="maria", reactivate=True))
    assert (job.files_done, job.files_failed) == (1, 0)
    again = await repo.get(privacy.id)
    assert again.state == "active" and again.workflow_instance_id != privacy.workflow_instance_id
    fresh = await engine.history(again.workflow_instance_id)  # type: ignore[arg-type]
    assert {a.actor for a in fresh if a.actor.startswith("human")} == {"human:maria"}
    assert any(p.citation.source == privacy.source for p in await retriever.retrieve(query))


async def test_files_resolving_outside_the_roots_are_refused_and_reported(
    db: Database, ingestor: Ingestor, corpus: Path, tmp_path: Path
) -> None:
    (corpus / "broken.pdf").unlink()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nThe safe code is 4711.\n")
    (corpus / "linked.md").symlink_to(outside / "secret.md")
    (corpus / "sub").symlink_to(outside, target_is_directory=True)  # never walked
    job = await ingestor.ingest([corpus], replace(OPTS, roots=(str(corpus),)))
    assert (job.files_total, job.files_done, job.files_failed) == (4, 3, 1)
    assert job.errors == [{"source": str(corpus / "linked.md"), "error": OUTSIDE_ROOTS}]
    assert all(
        "secret" not in d.source for d in await DocumentRepository(db, WorkflowEngine(db)).list()
    )
    # a file given directly is checked too; without roots (the CLI) nothing is checked
    job = await ingestor.ingest([corpus / "linked.md"], replace(OPTS, roots=(str(corpus),)))
    assert job.files_failed == 1
    job = await ingestor.ingest([corpus / "linked.md"], OPTS)
    assert job.files_done == 1


async def test_threshold_returns_nothing_when_nothing_is_close(
    db: Database, ingestor: Ingestor, embedder: HashingEmbedder, corpus: Path
) -> None:
    (corpus / "broken.pdf").unlink()
    await ingestor.ingest([corpus], OPTS)
    retriever = Retriever(PgVectorStore(db), embedder, RetrievalConfig(threshold=0.2))
    assert await retriever.retrieve("zebra quantum volcano helicopter") == []
    hits = await retriever.retrieve("Studio tier guest passes per month")
    assert hits and hits[0].citation.title == "Memberships"
    assert hits[0].citation.section == "Tiers" and hits[0].similarity >= 0.2
    assert await retriever.retrieve("Studio tier guest passes", threshold=0.99) == []
    filtered = await retriever.retrieve(
        "Studio tier guest passes", filters=SearchFilters(collections=("other",))
    )
    assert filtered == []


async def test_jobs_are_listed(db: Database, ingestor: Ingestor, corpus: Path) -> None:
    job = await ingestor.ingest([corpus], OPTS)
    listed = await ingestor.jobs.list()
    assert [j.id for j in listed] == [job.id]
    assert (await ingestor.jobs.get(job.id)).to_dict()["status"] == "done"
