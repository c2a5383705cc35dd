"""``/v1/escalations``: staff list level-4 escalations and resolve them (the thread resumes)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from api.auth.deps import require_role
from api.auth.principal import Principal, Role
from api.deps import MetricsDep, RuntimeDep, SettingsDep
from api.schemas.chat import ChatResponse
from api.schemas.common import ThreadId, problem_responses
from api.schemas.escalations import Escalation, EscalationList, ResolveRequest
from api.turns import shown_turn

router = APIRouter(prefix="/v1/escalations", tags=["escalations"])
Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]


@router.get(
    "", response_model=EscalationList, summary="List escalations",
    responses=problem_responses(401, 403, 422, 429),
)  # fmt: skip
async def list_escalations(
    _: Staff,
    rt: RuntimeDep,
    status: Annotated[
        Literal["pending", "approved", "rejected", "all"],
        Query(description="Only this status (`all`: any)."),
    ] = "pending",
    thread_id: Annotated[ThreadId | None, Query(description="Only this thread.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EscalationList:
    """Escalations, oldest first (pending ones by default). Staff and admin only."""
    rows = await rt.escalations.list(
        status=None if status == "all" else status, thread_id=thread_id, limit=limit
    )
    return EscalationList(items=[Escalation.model_validate(r.to_dict()) for r in rows])


@router.post(
    "/{escalation_id}/resolve",
    response_model=ChatResponse,
    summary="Resolve an escalation and resume its thread",
    responses=problem_responses(401, 403, 404, 409, 422, 429),
)
async def resolve(
    escalation_id: Annotated[str, Path(max_length=64, description="The escalation id.")],
    body: ResolveRequest,
    principal: Staff,
    rt: RuntimeDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> ChatResponse:
    """Decide a pending escalation as the calling person; the paused thread resumes.

    The response is the resumed turn's outcome, what the client sees next in the thread
    (``GET /v1/threads/{thread_id}``). The decision is recorded as ``human:<key name>`` on any
    workflow step it applies. A decided escalation answers 409.
    """
    turn = await rt.resolve(escalation_id, approve=body.approve, note=body.note, by=principal.name)
    metrics.observe_turn(turn)
    return ChatResponse.from_turn(shown_turn(settings, turn, "staff"))
