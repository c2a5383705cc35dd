"""``GET /v1/events``: staff follow workflow transitions, escalations and job progress (SSE)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth.deps import require_role
from api.auth.principal import Principal, Role
from api.problems import ProblemError
from api.schemas.common import problem_responses
from graphs.core.events import EventBus, EventType, get_event_bus

router = APIRouter(prefix="/v1", tags=["events"])
Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]

#: Keep-alive comment interval, seconds (proxies drop idle connections).
PING_S = 15
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

_DOC = (
    "`text/event-stream` of business events, forever: each SSE message has `id` (a stream id; "
    "send it back as `Last-Event-ID` when reconnecting to receive what you missed, within the "
    "newest ~10 000 events), `event` (its type) and `data` (the event as JSON: `id`, `type`, "
    "`ts`, `data`). Types: `transition.applied`, `transition.refused`, `escalation.created`, "
    "`escalation.resolved`, `job.progress`, `job.finished`. With Redis every replica and "
    "worker publishes to one stream; without, the events of this process only."
)


@router.get(
    "/events",
    summary="Follow business events (Server-Sent Events)",
    description=_DOC,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **problem_responses(401, 403, 422, 429),
    },
)
async def events(
    _: Staff,
    request: Request,
    type_: Annotated[
        list[EventType] | None,
        Query(alias="type", description="Only these types (repeat the parameter)."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Resume after this event id."),
    ] = None,
) -> Any:
    """Stream events as they happen (staff and admin only).

    Raises:
        ProblemError: 422 ``bad-last-event-id`` when ``Last-Event-ID`` is not a stream id.
    """
    if last_event_id is not None and not _STREAM_ID.match(last_event_id):
        raise ProblemError(
            422, "bad-last-event-id", "Invalid Last-Event-ID",
            "Last-Event-ID must be an event id as sent by this stream (<ms>-<seq>).",
        )  # fmt: skip
    bus = get_event_bus(request.app.state.settings)
    return EventSourceResponse(_sse(bus, set(type_) if type_ else None, last_event_id), ping=PING_S)


async def _sse(
    bus: EventBus, types: set[str] | None, last_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    async for event in bus.subscribe(types, last_id=last_id):
        yield ServerSentEvent(event.model_dump_json(), id=event.id, event=event.type)
