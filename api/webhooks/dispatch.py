"""Turn a verified webhook delivery into its effect, exactly once.

Bodies (JSON, validated with pydantic, discriminated by ``type``):

* ``{"type": "workflow.event", "instance_id", "event", "payload"?}`` fires ``event`` on a
  workflow instance on behalf of the step's owner (see "Who a delivery acts as" below);
* ``{"type": "workflow.start", "workflow_id", "subject", "data"?}`` starts an instance as
  ``system``;
* ``{"type": "knowledge.ingest", "collection", "documents": [{"title", "text", "source"}]}``
  queues an ingestion job (the route runs it in the background or hands it to the app's
  queue). Each document is written as Markdown (``# title`` then ``text``) to
  ``<data_dir>/webhook-inbox/<source>/<collection>/<sha256(doc source)[:32]>.md``, so a later
  delivery of the same document source updates the same knowledge document. The job's
  ``human``-owned approval steps are recorded as ``human:webhook-<source>``: configuring a
  source's secret is the operator's approval of what it sends.

Who a delivery acts as: a ``workflow.event`` reports an outside fact (a payment provider's
``payment_received``, a form's ``request_received``), so it fires the transition as the step's
owner: the owning persona (``solari`` for ``payment_received`` in WF-WELL-BOOK and WF-CONSULT) or
``system``. Configuring a source's secret is the operator's trust in what it reports, as for
ingest. ``human``-owned steps are never fired by a webhook: the delivery acts as ``system`` and
the engine refuses it (``human-approval-required``), so a person's decision cannot be forged by
a caller holding a webhook secret. The audit row records the persona (or ``system``) as actor,
``webhook:<source>:<delivery-id>`` as its request id and idempotency key, and ``"webhook":
<source>`` in its payload, so every webhook-made step is traceable to its delivery. The owner is
read before the transition; if the instance moves meanwhile, the engine checks the actor against
the step actually taken and refuses a mismatch.

The delivery id goes into ``webhook_deliveries`` in the same transaction as the effect: a
replayed id is refused (:class:`WebhookReplayedError`) and a refused effect (e.g. a
``human``-owned step) leaves no trace, so nothing is half-written.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

import psycopg
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from api.schemas.common import COLLECTION_PATTERN, JsonObject, NoNul
from api.schemas.knowledge import MAX_UPLOAD_CHARS
from graphs.core.settings import WEBHOOK_SOURCE_PATTERN
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.model import SYSTEM
from knowledge.ingest import IngestOptions
from knowledge.queue import create_ingest_job

if TYPE_CHECKING:
    from graphs.core.database import Database
    from graphs.core.settings import Settings

INBOX_DIR = "webhook-inbox"
SOURCE_PATTERN = WEBHOOK_SOURCE_PATTERN
#: Text stored as-is: no NUL characters (PostgreSQL cannot store them), refused before the
#: delivery id is spent.
_Text = Annotated[str, NoNul]


class WebhookReplayedError(Exception):
    """This ``(source, webhook-id)`` was already processed."""

    def __init__(self, source: str, delivery_id: str) -> None:
        self.source, self.delivery_id = source, delivery_id
        super().__init__(f"webhook {delivery_id!r} from {source!r} was already processed")


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class WorkflowEventBody(_Body):
    """Fire an event on a workflow instance as the step's owner (never a ``human`` step)."""

    type: Literal["workflow.event"]
    instance_id: UUID = Field(examples=["0b9f6a52-3c7e-4c41-9a51-2f0f3f6d1a10"])
    event: _Text = Field(min_length=1, max_length=100, examples=["booking_confirmed"])
    payload: JsonObject | None = Field(default=None, examples=[{"form": "web"}])


class WorkflowStartBody(_Body):
    """Start an instance of a workflow as ``system``."""

    type: Literal["workflow.start"]
    workflow_id: _Text = Field(min_length=1, max_length=50, examples=["WF-WELL-BOOK"])
    subject: _Text = Field(min_length=1, max_length=200, examples=["booking:web-1042"])
    data: JsonObject | None = Field(default=None, examples=[{"form": "web"}])


class IngestDocumentBody(_Body):
    """One document to add to (or update in) the knowledge base."""

    title: Annotated[_Text, StringConstraints(pattern=r"^[^\r\n]*$")] = Field(
        min_length=1, max_length=300, examples=["Gallery opening hours"]
    )
    text: _Text = Field(
        min_length=1, max_length=MAX_UPLOAD_CHARS,
        examples=["The gallery is open Tuesday to Sunday."],
    )  # fmt: skip
    source: _Text = Field(
        min_length=1, max_length=2000, examples=["https://cms.example.com/pages/hours"]
    )


class KnowledgeIngestBody(_Body):
    """Queue an ingestion job for the given documents."""

    type: Literal["knowledge.ingest"]
    collection: str = Field(default="default", pattern=COLLECTION_PATTERN, examples=["gallery"])
    documents: list[IngestDocumentBody] = Field(min_length=1, max_length=100)


WebhookEvent = Annotated[
    WorkflowEventBody | WorkflowStartBody | KnowledgeIngestBody, Field(discriminator="type")
]
EVENT_ADAPTER: TypeAdapter[WebhookEvent] = TypeAdapter(WebhookEvent)


@dataclass(frozen=True)
class DispatchResult:
    """What a delivery did.

    Attributes:
        delivery_id: The ``webhook-id``.
        kind: The body's ``type``.
        instance_id: Workflow instance started or advanced (workflow kinds).
        state: The instance's state afterwards (workflow kinds).
        audit_id: Audit row of the applied transition (``workflow.event``).
        job_id: The queued ingestion job (``knowledge.ingest``).
    """

    delivery_id: str
    kind: str
    instance_id: UUID | None = None
    state: str | None = None
    audit_id: int | None = None
    job_id: UUID | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (ids as strings, unset fields dropped)."""
        out: dict[str, Any] = {"delivery_id": self.delivery_id, "kind": self.kind}
        if self.instance_id is not None:
            out["instance_id"] = str(self.instance_id)
        if self.state is not None:
            out["state"] = self.state
        if self.audit_id is not None:
            out["audit_id"] = self.audit_id
        if self.job_id is not None:
            out["job_id"] = str(self.job_id)
        return out


def inbox_path(settings: Settings, source: str, collection: str, doc_source: str) -> Path:
    """Where the Markdown file of a webhook document lives (stable per document source)."""
    name = hashlib.sha256(doc_source.encode()).hexdigest()[:32] + ".md"
    return settings.data_dir / INBOX_DIR / source / collection / name


class WebhookDispatcher:
    """Apply verified deliveries: replay check and effect in one transaction.

    Args:
        db: The open database.
        settings: Gives ``data_dir`` (inbox of ingested documents).
        engine: Workflow engine to use (one on ``db`` by default).
    """

    def __init__(
        self, db: Database, settings: Settings, engine: WorkflowEngine | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.engine = engine or WorkflowEngine(db)

    async def dispatch(self, source: str, delivery_id: str, event: WebhookEvent) -> DispatchResult:
        """Record the delivery and apply its effect atomically.

        Args:
            source: The webhook source (a key of ``settings.webhook_secrets``).
            delivery_id: The verified ``webhook-id``.
            event: The validated body.

        Returns:
            What happened.

        Raises:
            WebhookReplayedError: the delivery id was already processed.
            graphs.workflows.errors.WorkflowError: the engine refused (nothing was written).
            OSError: an ingest document could not be written (nothing was recorded).
        """
        async with self.db.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO webhook_deliveries (source, delivery_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING RETURNING delivery_id",
                (source, delivery_id),
            )
            if await cur.fetchone() is None:
                raise WebhookReplayedError(source, delivery_id)
            if isinstance(event, WorkflowEventBody):
                ref = f"webhook:{source}:{delivery_id}"
                result = await self.engine.apply(
                    event.instance_id,
                    event.event,
                    await self.actor_for(event.instance_id, event.event),
                    idempotency_key=ref,
                    payload={**(event.payload or {}), "webhook": source},
                    request_id=ref,
                    conn=conn,
                )
                return DispatchResult(
                    delivery_id,
                    event.type,
                    instance_id=result.instance_id,
                    state=result.to_state,
                    audit_id=result.audit_id,
                )
            if isinstance(event, WorkflowStartBody):
                instance = await self.engine.start(
                    event.workflow_id,
                    event.subject,
                    actor=SYSTEM,
                    data=event.data,
                    idempotency_key=f"webhook:{source}:{delivery_id}",
                    conn=conn,
                )
                return DispatchResult(
                    delivery_id, event.type, instance_id=instance.id, state=instance.state
                )
            job_id = await self._queue_ingest(conn, source, delivery_id, event)
            return DispatchResult(delivery_id, event.type, job_id=job_id)

    async def actor_for(self, instance_id: UUID, event: str) -> str:
        """The actor a ``workflow.event`` delivery fires ``event`` as (see the module docstring).

        Returns:
            The owner of the instance's transition for ``event`` from its current state when
            that owner is a persona or ``system``; ``system`` otherwise (a ``human``-owned step,
            or no such transition: the engine then refuses with the precise error).

        Raises:
            graphs.workflows.errors.UnknownInstanceError: no such instance.
        """
        instance = await self.engine.get(instance_id)
        transition = self.engine.catalog.get(instance.workflow_id).transition(instance.state, event)
        if transition is None or transition.needs_human:
            return SYSTEM
        return transition.owner

    async def _queue_ingest(
        self,
        conn: psycopg.AsyncConnection[Any],
        source: str,
        delivery_id: str,
        event: KnowledgeIngestBody,
    ) -> UUID:
        files: dict[Path, IngestDocumentBody] = {}
        for doc in event.documents:  # the same document source twice: the last one wins
            files[inbox_path(self.settings, source, event.collection, doc.source)] = doc
        await asyncio.to_thread(_write_documents, files)
        inbox = self.settings.data_dir / INBOX_DIR / source / event.collection
        options = IngestOptions(  # the shipped chunker defaults
            collection=event.collection,
            operator=f"webhook-{source}",
            # every file the job reads must resolve inside this source's inbox
            roots=(str(inbox.resolve()),),
        )
        return await create_ingest_job(
            self.db,
            list(files),
            options,
            extra_params={
                "webhook": {"source": source, "delivery_id": delivery_id},
                "sources": {str(p.resolve()): d.source for p, d in files.items()},
            },
            conn=conn,  # inside the delivery's transaction
        )


def _write_documents(files: dict[Path, IngestDocumentBody]) -> None:
    for path, doc in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"# {doc.title}\n\n{doc.text.strip()}\n", encoding="utf-8")
        tmp.replace(path)
