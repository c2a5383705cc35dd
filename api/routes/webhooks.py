"""Inbound webhooks: ``POST /v1/webhooks/{source}``.

External systems (booking forms, the CMS) sign each delivery with the source's secret
(Standard Webhooks: see :mod:`api.webhooks.verify`). A verified body becomes a workflow event
(fired as the step's owning persona or ``system``, never for a ``human`` step) or start (actor
``system``) or a queued ingestion job (:mod:`api.webhooks.dispatch`). No API key
is involved: the signature is the credential.

Answers: 200 (workflow event applied / instance started), 202 (ingestion job queued),
404 ``webhook-source-unknown``, 401 ``webhook-signature-invalid`` /
``webhook-timestamp-out-of-tolerance`` / ``webhook-headers-missing``, 409 ``webhook-replayed``,
422 ``validation-error`` (body), or the workflow engine's refusal (e.g. 403
``human-approval-required``).

Ingestion jobs run through ``app.state.schedule_ingest`` (an ``async (job_id) -> None``, e.g.
the Redis job queue) when the app sets one, else through :func:`knowledge.queue.enqueue_ingest`
after the response is sent (queued with Redis, in-process without, with the runtime's embedder
or the process-wide default one).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, BackgroundTasks, Path, Request, Response
from pydantic import BaseModel, Field, ValidationError

from api.problems import ProblemError
from api.webhooks.dispatch import (
    EVENT_ADAPTER,
    SOURCE_PATTERN,
    WebhookDispatcher,
    WebhookEvent,
    WebhookReplayedError,
)
from api.webhooks.verify import WebhookVerificationError, verify
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import WorkflowError

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

_VERIFY_TITLES = {
    "webhook-signature-invalid": "Invalid webhook signature",
    "webhook-timestamp-out-of-tolerance": "Webhook timestamp out of tolerance",
    "webhook-headers-missing": "Webhook headers missing",
}


class WebhookAccepted(BaseModel):
    """What a verified delivery did."""

    delivery_id: str = Field(examples=["msg_2b7f3c1e"])
    kind: Literal["workflow.event", "workflow.start", "knowledge.ingest"] = Field(
        examples=["workflow.event"]
    )
    instance_id: UUID | None = Field(
        default=None, examples=["0b9f6a52-3c7e-4c41-9a51-2f0f3f6d1a10"]
    )
    state: str | None = Field(default=None, examples=["confirmed"])
    audit_id: int | None = Field(default=None, examples=[42])
    job_id: UUID | None = Field(default=None, examples=["5d0c8a8e-8f0e-4b9f-9d7e-0f4c2d1b6a33"])


def _problem_responses() -> dict[int | str, dict[str, Any]]:
    described = {
        202: "Ingestion job queued (`knowledge.ingest`).",
        401: "Signature invalid, headers missing, or timestamp outside the tolerance.",
        403: "The workflow engine refused: the step needs a person (or `system` may not start it).",
        404: "Unknown webhook source (or unknown workflow/instance).",
        409: "Replayed `webhook-id`, or the transition is not possible now.",
        413: "Body larger than the limit.",
        422: "The body is not a valid event.",
    }
    out: dict[int | str, dict[str, Any]] = {}
    for status, text in described.items():
        if status == 202:
            out[status] = {"description": text, "model": WebhookAccepted}
        else:
            out[status] = {
                "description": text,
                "content": {"application/problem+json": {"schema": {"type": "object"}}},
            }
    return out


def _engine(request: Request) -> WorkflowEngine:
    runtime = getattr(request.app.state, "runtime", None)
    engine = getattr(getattr(runtime, "deps", None), "engine", None)
    return engine if isinstance(engine, WorkflowEngine) else WorkflowEngine(request.app.state.db)


def _parse(body: bytes) -> WebhookEvent:
    try:
        return EVENT_ADAPTER.validate_json(body)
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(["body", *(str(p) for p in e["loc"])]),
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors(include_url=False)
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise ProblemError(
            422, "validation-error", "Invalid request", detail, errors=errors
        ) from None


@router.post(
    "/{source}",
    response_model=WebhookAccepted,
    summary="Receive a signed webhook",
    responses=_problem_responses(),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": EVENT_ADAPTER.json_schema(
                        ref_template="#/components/schemas/{model}"
                    ),
                    "examples": {
                        "workflow.event": {
                            "value": {
                                "type": "workflow.event",
                                "instance_id": "0b9f6a52-3c7e-4c41-9a51-2f0f3f6d1a10",
                                "event": "booking_confirmed",
                            }
                        },
                        "knowledge.ingest": {
                            "value": {
                                "type": "knowledge.ingest",
                                "collection": "gallery",
                                "documents": [
                                    {
                                        "title": "Opening hours",
                                        "text": "Open Tuesday to Sunday, 10:00-18:00.",
                                        "source": "https://cms.example.com/hours",
                                    }
                                ],
                            }
                        },
                    },
                }
            },
        }
    },
)
async def receive_webhook(
    request: Request,
    response: Response,
    background: BackgroundTasks,
    source: Annotated[str, Path(pattern=SOURCE_PATTERN, examples=["booking"])],
) -> WebhookAccepted:
    """Verify a Standard Webhooks delivery from ``source`` and apply it exactly once."""
    settings = request.app.state.settings
    secrets = settings.webhook_secrets.get(source)
    if not secrets:
        raise ProblemError(
            404,
            "webhook-source-unknown",
            "Unknown webhook source",
            f"No webhook source {source!r}.",
        )
    body = await request.body()
    try:
        delivery = verify(request.headers, body, secrets, tolerance_s=settings.webhook_tolerance_s)
    except WebhookVerificationError as exc:
        log.info("webhook.rejected", source=source, reason=exc.slug)
        raise ProblemError(401, exc.slug, _VERIFY_TITLES[exc.slug], str(exc)) from None
    event = _parse(delivery.body)
    dispatcher = WebhookDispatcher(request.app.state.db, settings, _engine(request))
    try:
        result = await dispatcher.dispatch(source, delivery.id, event)
    except WebhookReplayedError as exc:
        raise ProblemError(
            409, "webhook-replayed", "Webhook already processed", str(exc), delivery_id=delivery.id
        ) from None
    except WorkflowError as exc:
        raise ProblemError(exc.status, exc.code, "Workflow refusal", str(exc)) from None
    log.info("webhook.applied", source=source, delivery=delivery.id, kind=result.kind)
    if result.job_id is not None:
        response.status_code = 202
        scheduler = getattr(request.app.state, "schedule_ingest", None)
        if scheduler is not None:
            await scheduler(result.job_id)
        else:
            background.add_task(_run_ingest_job, request.app.state, result.job_id)
    return WebhookAccepted.model_validate(result.to_dict())


async def _run_ingest_job(state: Any, job_id: UUID) -> None:
    """Run a queued ingestion job through the one runner (failures are recorded on the job).

    :func:`knowledge.queue.enqueue_ingest` queues it (Redis) or runs it here with the
    runtime's embedder (or the process-wide default one), with the side effects of every run.
    """
    from knowledge.queue import enqueue_ingest

    runtime = getattr(state, "runtime", None)
    retriever = getattr(getattr(runtime, "deps", None), "retriever", None)
    embedder = getattr(retriever, "embedder", None)
    try:
        await enqueue_ingest(state.settings, job_id, db=state.db, embedder=embedder)
    except Exception:
        log.exception("webhook.ingest_failed", job=str(job_id))
