from __future__ import annotations

import uuid
from typing import Any

import pytest

from graphs.core.database import Database
from graphs.workflows.catalog import default_catalog
from graphs.workflows.engine import WorkflowEngine
from knowledge.lifecycle import EMBEDDED_EVENT, actor_for, path_to_embedding
from knowledge.store.base import DocumentRef
from knowledge.store.pgvector import PgVectorStore
from knowledge.types import SourceDocument
from tests.contracts.vector_store import AddDocument, Serve, VectorStoreContract

pytestmark = pytest.mark.integration
KB = default_catalog().get("WF-KB-DEV")


async def insert_document(db: Database, engine: WorkflowEngine, **kw: str) -> DocumentRef:
    """A kb_documents row with its WF-KB-DEV instance, walked to embedding_creation."""
    from knowledge.documents import DocumentRepository

    doc_id = uuid.uuid4()
    inst = await engine.start("WF-KB-DEV", f"document:{doc_id}", actor="human:test")
    for t in path_to_embedding(KB, inst.state):
        await engine.apply(inst.id, t.event, actor_for(t, "test"))
    src = SourceDocument(
        source=kw["source"], title=kw["title"], text="x", content_type=kw["content_type"],
        collection=kw["collection"],
    )  # fmt: skip
    async with db.connection() as conn, conn.transaction():
        await DocumentRepository(db, engine).insert(
            conn, document_id=doc_id, doc=src, fingerprint="f", state="embedding_creation",
            instance_id=inst.id,
        )  # fmt: skip
    return DocumentRef(doc_id, kw["collection"], kw["source"], kw["title"], kw["content_type"])


class TestPgVectorStore(VectorStoreContract):
    @pytest.fixture
    def store(self, db: Database) -> PgVectorStore:
        return PgVectorStore(db, exact_search_max_rows=3)

    @pytest.fixture
    def add_document(self, store: PgVectorStore, db: Database) -> AddDocument:
        engine = WorkflowEngine(db)

        async def add(**kw: str) -> DocumentRef:
            return await insert_document(db, engine, **kw)

        return add

    @pytest.fixture
    def serve(self, store: PgVectorStore, db: Database) -> Serve:
        """Serving follows the workflow: embeddings_created makes it live, archiving removes it."""
        engine = WorkflowEngine(db)

        async def serve(ref: DocumentRef, on: bool) -> None:
            async with db.connection() as c:
                row = await (
                    await c.execute(
                        "SELECT workflow_instance_id FROM kb_documents WHERE id = %s", (ref.id,)
                    )
                ).fetchone()
            assert row is not None
            if on:
                await engine.apply(row[0], EMBEDDED_EVENT, "atlas")
            else:
                await engine.apply(row[0], "content_deprecated", "human:test")

        return serve


async def test_per_model_hnsw_index_is_used(db: Database) -> None:
    store = PgVectorStore(db)
    name = await store.ensure_index("m/x", 16)
    async with db.connection() as c:
        row = await (
            await c.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (name,))
        ).fetchone()
        assert row is not None and "hnsw" in row[0] and "vector(16)" in row[0]
        await c.execute("SET enable_seqscan = off")
        plan: Any = await (
            await c.execute(
                "EXPLAIN SELECT id FROM kb_chunks c WHERE c.embedding_model = 'm/x' AND c.servable"
                " ORDER BY c.embedding::vector(16) <=> %s::vector(16) LIMIT 5",
                ("[" + ",".join(["0.25"] * 16) + "]",),
            )
        ).fetchall()
    assert name in "\n".join(r[0] for r in plan)
