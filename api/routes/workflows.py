"""``/v1/workflows`` and ``/v1/instances``: definitions, instances, events and audit history.

Every change goes through :class:`~graphs.workflows.engine.WorkflowEngine` (owner, state,
version and idempotency checks; audit row in the same transaction). The actor is the calling
person, ``human:<key name>``: staff fire only ``human``-owned steps (approvals); persona- and
system-owned steps are refused with ``not-owner``. Clients cannot read or fire anything here.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Path, Query, Response

from api.auth.deps import require_role
from api.auth.principal import Principal, Role
from api.deps import EngineDep, MetricsDep
from api.problems import ProblemError
from api.schemas.common import problem_responses
from api.schemas.workflows import (
    AuditEntryOut,
    AuditHistory,
    FireEvent,
    IdempotencyKey,
    InstanceDetail,
    InstanceList,
    InstanceOut,
    StartInstance,
    TransitionOut,
    TransitionResultOut,
    WorkflowDetail,
    WorkflowList,
    WorkflowSummary,
)
from graphs.workflows.errors import WorkflowError
from graphs.workflows.model import Transition, Workflow

router = APIRouter(prefix="/v1", tags=["workflows"])
Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]
WorkflowId = Annotated[str, Path(max_length=64, description="e.g. WF-WELL-BOOK")]
InstanceId = Annotated[UUID, Path(description="The instance id.")]
KeyHeader = Annotated[IdempotencyKey | None, Header(alias="Idempotency-Key")]
_READ = problem_responses(401, 403, 404, 422, 429)


def actor_of(principal: Principal) -> str:
    """The workflow actor for a person calling the API: ``human:<key name>``."""
    return f"human:{principal.name}"


def _summary(wf: Workflow) -> WorkflowSummary:
    return WorkflowSummary(
        id=wf.id, name=wf.name, domain=wf.domain, subject=wf.subject,
        description=wf.description, initial_state=wf.initial_state,
    )  # fmt: skip


def _transition(t: Transition) -> TransitionOut:
    return TransitionOut.model_validate(
        {"event": t.event, "from": t.from_state, "to": t.to_state, "owner": t.owner}
    )


def _key(body_key: str | None, header_key: str | None) -> str | None:
    if body_key and header_key and body_key != header_key:
        raise ProblemError(
            422, "validation-error", "Invalid request",
            "idempotency_key and the Idempotency-Key header differ",
            errors=[{"field": "header.Idempotency-Key", "type": "value_error",
                     "message": "differs from body.idempotency_key"}],
        )  # fmt: skip
    return body_key or header_key


@router.get("/workflows", response_model=WorkflowList, summary="List workflows",
            responses=problem_responses(401, 403, 429))  # fmt: skip
async def list_workflows(_: Staff, engine: EngineDep) -> WorkflowList:
    """The 14 operational workflows."""
    return WorkflowList(items=[_summary(wf) for wf in engine.catalog])


@router.get("/workflows/{workflow_id}", response_model=WorkflowDetail,
            summary="A workflow's states and transitions", responses=_READ)  # fmt: skip
async def get_workflow(workflow_id: WorkflowId, _: Staff, engine: EngineDep) -> WorkflowDetail:
    """States, final states and every transition with its owner."""
    wf = engine.catalog.get(workflow_id)
    return WorkflowDetail(
        **_summary(wf).model_dump(),
        states=list(wf.states),
        terminal_states=sorted(wf.terminal_states),
        transitions=[_transition(t) for t in wf.transitions],
    )


@router.get("/workflows/{workflow_id}/instances", response_model=InstanceList,
            summary="List a workflow's instances", responses=_READ)  # fmt: skip
async def list_instances(
    workflow_id: WorkflowId,
    _: Staff,
    engine: EngineDep,
    state: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=200, description="TYPE:ID or ID")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> InstanceList:
    """Instances newest first, optionally in one state or about one subject."""
    rows = await engine.find(
        workflow_id=workflow_id, state=state, subject=subject, limit=limit, offset=offset
    )
    return InstanceList(items=[InstanceOut.model_validate(i.to_dict()) for i in rows])


@router.post(
    "/workflows/{workflow_id}/instances", response_model=InstanceOut, status_code=201,
    summary="Start an instance", responses=problem_responses(401, 403, 404, 409, 422, 429),
)  # fmt: skip
async def start_instance(
    workflow_id: WorkflowId,
    body: StartInstance,
    principal: Staff,
    engine: EngineDep,
    response: Response,
    idempotency_key: KeyHeader = None,
) -> InstanceOut:
    """Start an instance in the workflow's initial state, as the calling person."""
    inst = await engine.start(
        workflow_id, body.subject, actor=actor_of(principal), data=body.data,
        idempotency_key=_key(body.idempotency_key, idempotency_key),
    )  # fmt: skip
    response.headers["Location"] = f"/v1/instances/{inst.id}"
    return InstanceOut.model_validate(inst.to_dict())


@router.get("/instances/{instance_id}", response_model=InstanceDetail,
            summary="An instance and its possible next steps", responses=_READ)  # fmt: skip
async def get_instance(instance_id: InstanceId, _: Staff, engine: EngineDep) -> InstanceDetail:
    """The instance with every transition possible from its state (and who owns it)."""
    inst = await engine.get(instance_id)
    return InstanceDetail(
        **inst.to_dict(), available=[_transition(t) for t in engine.available(inst)]
    )


@router.get("/instances/{instance_id}/history", response_model=AuditHistory,
            summary="An instance's audit history", responses=_READ)  # fmt: skip
async def history(instance_id: InstanceId, _: Staff, engine: EngineDep) -> AuditHistory:
    """Every audit row, oldest first: who fired what, when, from which request."""
    rows = await engine.history(instance_id)
    return AuditHistory(items=[AuditEntryOut.model_validate(r.to_dict()) for r in rows])


@router.post(
    "/instances/{instance_id}/events", response_model=TransitionResultOut,
    summary="Fire an event (a human-owned step) on an instance",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)  # fmt: skip
async def fire_event(
    instance_id: InstanceId,
    body: FireEvent,
    principal: Staff,
    engine: EngineDep,
    metrics: MetricsDep,
    idempotency_key: KeyHeader = None,
) -> Any:
    """Apply ``event`` as ``human:<key name>``.

    Refusals are problems with the engine's stable types: ``not-owner`` (403, the step
    belongs to a persona or the system), ``invalid-transition`` / ``stale-version`` /
    ``concurrent-update`` (409), ``unknown-event`` / ``idempotency-key-reused`` (422),
    ``unknown-instance`` (404).
    """
    try:
        result = await engine.apply(
            instance_id, body.event, actor_of(principal),
            _key(body.idempotency_key, idempotency_key), body.payload,
            expected_version=body.expected_version,
        )  # fmt: skip
    except WorkflowError:
        metrics.count_transitions((), (1,), "api")
        raise
    if not result.replayed:
        metrics.count_transitions((1,), (), "api")
    return TransitionResultOut.model_validate(result.to_dict())
