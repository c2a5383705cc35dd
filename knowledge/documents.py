"""The knowledge base's document records (``kb_documents``) and their lifecycle operations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from graphs.core.database import Database
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.model import HUMAN
from knowledge.lifecycle import ARCHIVE_EVENT
from knowledge.store.base import DocumentRef
from knowledge.types import SourceDocument

Conn = psycopg.AsyncConnection[Any]


class DocumentNotFoundError(LookupError):
    """No knowledge document matches the given id or source."""


@dataclass(frozen=True)
class DocumentRecord:
    """A row of ``kb_documents`` with its chunk count.

    Attributes:
        state: Its WF-KB-DEV state (kept in step by a database trigger).
        fingerprint: Hash of content + chunker settings + embedding model; equal means an
            ingest would write nothing.
    """

    id: UUID
    collection: str
    source: str
    title: str
    content_type: str
    content_hash: str
    fingerprint: str
    state: str
    workflow_instance_id: UUID | None
    metadata: dict[str, Any]
    modified_at: datetime | None
    created_at: datetime
    updated_at: datetime
    chunks: int = 0

    @property
    def ref(self) -> DocumentRef:
        """The fields chunks carry."""
        return DocumentRef(self.id, self.collection, self.source, self.title, self.content_type)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("id", "workflow_instance_id"):
            out[k] = str(out[k]) if out[k] else None
        for k in ("modified_at", "created_at", "updated_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


_SELECT = (
    "SELECT d.*, (SELECT count(*) FROM kb_chunks c WHERE c.document_id = d.id) AS chunks"
    " FROM kb_documents d"
)


class DocumentRepository:
    """Reads and writes ``kb_documents``; state changes go through the workflow engine."""

    def __init__(self, db: Database, engine: WorkflowEngine) -> None:
        self.db = db
        self.engine = engine

    async def get(self, document_id: UUID | str) -> DocumentRecord:
        """One document by id.

        Raises:
            DocumentNotFoundError: no such document.
        """
        try:
            doc_id = UUID(str(document_id))
        except ValueError as exc:
            raise DocumentNotFoundError(f"no document {document_id}") from exc
        async with self.db.connection() as c:
            row = await (
                await c.cursor(row_factory=dict_row).execute(
                    f"{_SELECT} WHERE d.id = %s", (doc_id,)
                )
            ).fetchone()
        if row is None:
            raise DocumentNotFoundError(f"no document {document_id}")
        return DocumentRecord(**row)

    async def find_by_source(
        self, collection: str, source: str, *, conn: Conn | None = None
    ) -> DocumentRecord | None:
        """The document ingested from ``source`` into ``collection``, if any."""
        q = f"{_SELECT} WHERE d.collection = %s AND d.source = %s"
        if conn is not None:
            row = await (
                await conn.cursor(row_factory=dict_row).execute(q, (collection, source))
            ).fetchone()
        else:
            async with self.db.connection() as c:
                row = await (
                    await c.cursor(row_factory=dict_row).execute(q, (collection, source))
                ).fetchone()
        return DocumentRecord(**row) if row else None

    async def lock_source(self, conn: Conn, collection: str, source: str) -> None:
        """Serialise writers of one ``(collection, source)`` until ``conn``'s transaction ends.

        Two ingests of the same new file would otherwise both find no row and both insert (a
        unique violation on ``kb_documents(collection, source)``). Taken first in the write
        transaction, this transaction-scoped advisory lock makes the later writer wait and then
        find the row the first one committed. Different pairs rarely share a key (two 32-bit
        text hashes); when they do, their writes only queue behind each other.

        Args:
            conn: A connection inside the write transaction (the lock is released at its end).
            collection: The document's collection.
            source: The document's source (its identity within the collection).
        """
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (collection, source)
        )

    async def list(
        self, *, collection: str | None = None, state: str | None = None, limit: int = 200
    ) -> list[DocumentRecord]:
        """Documents, most recently updated first."""
        clauses, params = [], []
        if collection:
            clauses.append("d.collection = %s")
            params.append(collection)
        if state:
            clauses.append("d.state = %s")
            params.append(state)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        q = f"{_SELECT}{where} ORDER BY d.updated_at DESC, d.source LIMIT %s"
        async with self.db.connection() as c:
            rows = await (
                await c.cursor(row_factory=dict_row).execute(q, [*params, limit])
            ).fetchall()
        return [DocumentRecord(**r) for r in rows]

    async def insert(
        self,
        conn: Conn,
        *,
        document_id: UUID,
        doc: SourceDocument,
        fingerprint: str,
        state: str,
        instance_id: UUID,
    ) -> None:
        """Insert a new document row (inside the caller's transaction)."""
        await conn.execute(
            "INSERT INTO kb_documents (id, collection, source, title, content_type,"
            " content_hash, fingerprint, state, workflow_instance_id, metadata, modified_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                document_id,
                doc.collection,
                doc.source,
                doc.title,
                doc.content_type,
                doc.content_hash,
                fingerprint,
                state,
                instance_id,
                Jsonb(doc.metadata),
                doc.modified_at,
            ),
        )

    async def update_content(
        self,
        conn: Conn,
        document_id: UUID,
        doc: SourceDocument,
        fingerprint: str,
        instance_id: UUID | None = None,
    ) -> None:
        """Record new content facts for an existing document (inside a transaction)."""
        await conn.execute(
            "UPDATE kb_documents SET title = %s, content_type = %s, content_hash = %s,"
            " fingerprint = %s, metadata = %s, modified_at = %s, updated_at = now(),"
            " workflow_instance_id = coalesce(%s, workflow_instance_id),"
            " state = coalesce((SELECT state FROM workflow_instances WHERE id = %s), state)"
            " WHERE id = %s",
            (
                doc.title,
                doc.content_type,
                doc.content_hash,
                fingerprint,
                Jsonb(doc.metadata),
                doc.modified_at,
                instance_id,
                instance_id,
                document_id,
            ),
        )

    async def archive(
        self, document_id: UUID | str, *, operator: str, reason: str | None = None
    ) -> DocumentRecord:
        """Archive a document through WF-KB-DEV (``content_deprecated``, a human step).

        Its chunks stop being served in the same transaction (database trigger).

        Raises:
            DocumentNotFoundError: no such document.
            graphs.workflows.errors.WorkflowError: the document is not in a state that can be
                archived (only ``active`` can).
        """
        doc = await self.get(document_id)
        if doc.workflow_instance_id is None:  # pragma: no cover - every ingest links one
            raise DocumentNotFoundError(f"document {document_id} has no workflow instance")
        payload = {"reason": reason} if reason else None
        await self.engine.apply(
            doc.workflow_instance_id, ARCHIVE_EVENT, f"{HUMAN}:{operator}", payload=payload
        )
        return await self.get(doc.id)
