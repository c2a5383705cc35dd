"""``POST /v1/chat``: one user turn, as JSON or as a Server-Sent Events stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth.deps import rate_limited
from api.auth.principal import Principal
from api.deps import MetricsDep, OwnersDep, RuntimeDep, SettingsDep
from api.idempotency import (
    HEADER,
    KEY_PATTERN,
    REPLAYED_HEADER,
    final_only,
    first_run,
    header_description,
    plan_turn,
    replayed_turn,
)
from api.schemas.chat import ChatRequest, ChatResponse
from api.schemas.common import problem_responses, sse_content
from api.turns import audience_of, open_stream, run_turn, shown_event, shown_turn, stream_error
from graphs.core.settings import Settings
from graphs.runtime import Audience

router = APIRouter(prefix="/v1", tags=["chat"])
Caller = Annotated[Principal, Depends(rate_limited)]

#: Event names of a streamed turn, before the final ``message`` and ``done``.
TURN_EVENTS = ["route", "token", "action", "refusal", "citation", "escalation"]
#: Keep-alive comment interval of SSE streams, seconds (proxies drop idle connections).
PING_S = 15

_SSE_DOC = (
    "With `?stream=true`: `text/event-stream`. Events, in order: `route` (routing decision), "
    "`token` (reply text as produced, `{persona, text}`), `action` / `refusal` / `citation` "
    "(workflow steps and sources as each tool step ends), `escalation` (the thread paused "
    "for a person), `message` (the full ChatResponse), then `done`. A failure after the "
    "stream started is sent as an `error` event carrying a problem body.\n\n"
    "With an `Idempotency-Key` header a retry returns the first turn's result (header "
    "`Idempotent-Replayed: true`; as a stream: `message` then `done`) and stores nothing new, "
    "also after a server crash; the same key with another body is 422 "
    "`idempotency-key-reused`."
)


@router.post(
    "/chat",
    response_model=ChatResponse,
    summary="Send a message to Grace or a named persona",
    description=_SSE_DOC,
    responses={
        200: {"content": sse_content([*TURN_EVENTS, "message", "done", "error"])},
        **problem_responses(400, 401, 404, 409, 422, 429),
    },
)
async def chat(
    body: ChatRequest,
    principal: Caller,
    rt: RuntimeDep,
    owners: OwnersDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    response: Response,
    stream: Annotated[bool, Query(description="Stream Server-Sent Events.")] = False,
    idempotency_key: Annotated[
        str | None,
        Header(alias=HEADER, description=header_description(), pattern=KEY_PATTERN),
    ] = None,
) -> Any:
    """Run one turn. A new thread starts without ``thread_id``; its id is in the reply.

    Clients may only continue their own threads (another key's thread reads as not found);
    a thread waiting for a person answers 409 ``thread-waiting-for-person``, one with a turn
    in progress 409 ``thread-busy``.
    """
    plan = await plan_turn(
        rt, owners, principal, idempotency_key, endpoint="chat",
        payload=body.model_dump(mode="json"), thread_id=body.thread_id, persona=body.persona,
    )  # fmt: skip
    audience = audience_of(principal)
    headers = {"X-Grace-Thread": plan.thread_id}
    if plan.replay is not None:
        turn = await replayed_turn(
            rt, principal, plan,
            lambda: run_turn(rt, metrics, body.message, plan.thread_id, plan.persona, audience,
                             message_id=plan.message_id),
        )  # fmt: skip
        headers[REPLAYED_HEADER] = "true"
        if not stream:
            response.headers.update(headers)
            return ChatResponse.from_turn(shown_turn(settings, turn, audience))
        return EventSourceResponse(
            _sse(final_only(turn), settings, audience), ping=PING_S, headers=headers
        )
    if not stream:
        turn = await first_run(rt, principal, plan, lambda: run_turn(
            rt, metrics, body.message, plan.thread_id, plan.persona, audience,
            message_id=plan.message_id,
        ))  # fmt: skip
        return ChatResponse.from_turn(shown_turn(settings, turn, audience))
    events = await first_run(rt, principal, plan, lambda: open_stream(
        rt, metrics, body.message, plan.thread_id, plan.persona, audience,
        message_id=plan.message_id,
    ))  # fmt: skip
    return EventSourceResponse(_sse(events, settings, audience), ping=PING_S, headers=headers)


async def _sse(
    events: AsyncIterator[Any], settings: Settings, audience: Audience
) -> AsyncIterator[ServerSentEvent]:
    """A turn's events as SSE; citations as ``audience`` may see them (:func:`shown_event`)."""
    try:
        async for raw in events:
            event = shown_event(settings, raw, audience)
            if event.type == "final" and event.result is not None:
                body = ChatResponse.from_turn(event.result).model_dump(mode="json")
                yield ServerSentEvent(json.dumps(body), event="message")
            else:
                yield ServerSentEvent(json.dumps(event.data, default=str), event=event.type)
    except Exception as exc:  # the response has started: report in-band
        yield ServerSentEvent(json.dumps(stream_error(exc)), event="error")
        return
    yield ServerSentEvent("{}", event="done")
