"""``GET /v1/threads/{thread_id}``: a conversation's history, persona, level and escalation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.auth.deps import rate_limited
from api.auth.principal import Principal
from api.deps import OwnersDep, RuntimeDep
from api.problems import ProblemError
from api.schemas.common import ThreadId, problem_responses
from api.schemas.escalations import Escalation
from api.schemas.threads import Thread, ThreadMessage

router = APIRouter(prefix="/v1", tags=["threads"])


@router.get(
    "/threads/{thread_id}", response_model=Thread, summary="Read a conversation",
    responses=problem_responses(401, 404, 422, 429),
)  # fmt: skip
async def get_thread(
    thread_id: Annotated[ThreadId, Path(description="The conversation id.")],
    principal: Annotated[Principal, Depends(rate_limited)],
    rt: RuntimeDep,
    owners: OwnersDep,
) -> Thread:
    """History (user messages and replies), current persona, level and pending escalation.

    Clients read only their own threads (another key's thread is not found); staff read all.
    """
    await owners.check(thread_id, principal)
    view = await rt.thread(thread_id)
    if view is None:
        raise ProblemError(404, "thread-not-found", "Thread not found", f"No thread {thread_id!r}.")
    data = view.to_dict()
    return Thread(
        thread_id=view.thread_id,
        turn=view.turn,
        messages=[
            ThreadMessage(
                role=m["role"],
                content=m["content"],
                persona=m.get("persona"),
                agent=m.get("persona"),
            )
            for m in view.messages
        ],
        current_persona=view.current_persona,
        current_agent=view.current_persona,
        level=view.level,
        reasons=view.reasons,
        escalation=Escalation.model_validate(data["escalation"]) if view.escalation else None,
    )
