"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

The official ``openai`` client works unchanged: ``base_url`` = ``<server>/v1``, ``api_key`` =
a Grace API key, ``model`` = ``grace`` (Grace routes) or a persona name (talk to it directly).

Conversation continuity: the conversation lives on the server. The last ``user`` message is
the turn; earlier messages in ``messages`` are not replayed. Send the thread id back in the
``X-Grace-Thread`` request header (``extra_headers``) or ``metadata.thread_id`` to continue a
conversation; every response carries it in the ``X-Grace-Thread`` header and in the
non-standard ``grace`` member (``grace.thread_id``). Without one, each request starts a new
conversation.

Retries: send an ``Idempotency-Key`` header (``extra_headers``; see ``api/idempotency.py``). A
retry with the same key returns the first completion (same ``id``) and stores nothing new.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from agents.registry import GRACE
from api.auth.deps import rate_limited
from api.auth.principal import Principal
from api.deps import MetricsDep, OwnersDep, RegistryDep, RuntimeDep
from api.idempotency import (
    HEADER,
    KEY_PATTERN,
    REPLAYED_HEADER,
    created_at,
    final_only,
    first_run,
    header_description,
    plan_turn,
    replayed_turn,
)
from api.problems import ProblemError
from api.routes.chat import PING_S
from api.schemas.common import ThreadId, problem_responses, sse_content
from api.schemas.openai import Completion, CompletionRequest, Model, ModelList, usage_of
from api.turns import audience_of, open_stream, run_turn, stream_error
from graphs.turn_result import TurnResult

router = APIRouter(prefix="/v1", tags=["openai"])
Caller = Annotated[Principal, Depends(rate_limited)]
THREAD_HEADER = "X-Grace-Thread"


@router.get(
    "/models", response_model=ModelList, summary="List models (grace and the eight personas)",
    responses=problem_responses(401, 429),
)  # fmt: skip
async def models(_: Caller, registry: RegistryDep) -> ModelList:
    """``grace`` (Grace routes each turn) followed by the eight personas."""
    data = [Model(id=GRACE, description=registry.grace.role)]
    data += [Model(id=p.name, description=p.role) for p in registry.personas]
    return ModelList(data=data)


@router.post(
    "/chat/completions",
    response_model=Completion,
    summary="OpenAI-compatible chat completion",
    responses={
        200: {
            "content": sse_content(),
            "description": "A chat.completion, or with stream=true chat.completion.chunk "
            "events ending with `data: [DONE]`.",
        },
        **problem_responses(400, 401, 404, 409, 422, 429),
    },
)
async def completions(
    body: CompletionRequest,
    principal: Caller,
    rt: RuntimeDep,
    owners: OwnersDep,
    metrics: MetricsDep,
    response: Response,
    x_grace_thread: Annotated[ThreadId | None, Header(alias=THREAD_HEADER)] = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias=HEADER, description=header_description(), pattern=KEY_PATTERN),
    ] = None,
) -> Any:
    """Run the last user message as one turn of a Grace conversation."""
    message = _last_user_text(body)
    asked = None if body.model.strip().lower() == GRACE else body.model
    wanted = x_grace_thread or (body.metadata.thread_id if body.metadata else None)
    payload = {"body": body.model_dump(mode="json", exclude={"stream"}), "thread": wanted}
    plan = await plan_turn(rt, owners, principal, idempotency_key, endpoint="completions",
                           payload=payload, thread_id=wanted, persona=asked)  # fmt: skip
    thread_id, persona, audience = plan.thread_id, plan.persona, audience_of(principal)
    # With a key, the id follows from the message id: a replay answers with the same one.
    cid = f"chatcmpl-{(plan.message_id or uuid.uuid4().hex)[:24]}"
    created, model = created_at(plan.replay), body.model
    headers = {THREAD_HEADER: thread_id}
    if plan.replay is not None:
        turn = await replayed_turn(
            rt, principal, plan,
            lambda: run_turn(rt, metrics, message, thread_id, persona, audience,
                             message_id=plan.message_id),
        )  # fmt: skip
        headers[REPLAYED_HEADER] = "true"
        if body.stream:
            return EventSourceResponse(
                _chunks(final_only(turn), cid, created, model), ping=PING_S, headers=headers
            )
    elif body.stream:
        events = await first_run(rt, principal, plan, lambda: open_stream(
            rt, metrics, message, thread_id, persona, audience, message_id=plan.message_id
        ))  # fmt: skip
        return EventSourceResponse(_chunks(events, cid, created, model), ping=PING_S,
                                   headers=headers)  # fmt: skip
    else:
        turn = await first_run(rt, principal, plan, lambda: run_turn(
            rt, metrics, message, thread_id, persona, audience, message_id=plan.message_id
        ))  # fmt: skip
    response.headers.update(headers)
    reply = _reply_text(turn)
    return Completion(
        id=cid,
        created=created,
        model=model,
        choices=[{"message": {"content": reply, "name": turn.persona}}],  # type: ignore[list-item]
        usage=usage_of(message, reply),  # type: ignore[arg-type]
        grace=_extension(turn),  # type: ignore[arg-type]
    )


def _last_user_text(body: CompletionRequest) -> str:
    for m in reversed(body.messages):
        if m.role == "user":
            text = m.text()
            if text.strip():
                return text
            break
    raise ProblemError(
        422, "validation-error", "Invalid request",
        "messages: the last user message must have text content",
        errors=[{"field": "body.messages", "message": "no user message with text",
                 "type": "value_error"}],
    )  # fmt: skip


def _reply_text(turn: TurnResult) -> str:
    """The reply; while the thread waits for a person, a line that says so."""
    esc = turn.escalation
    if turn.reply or esc is None:
        return turn.reply
    return (
        "A person from our team will take this from here; this conversation continues once "
        f"they respond (escalation {esc.id})."
    )


def _extension(turn: TurnResult) -> dict[str, Any]:
    esc = turn.escalation
    return {
        "thread_id": turn.thread_id,
        "persona": turn.persona,
        "agent": turn.persona,
        "level": turn.level,
        "reasons": list(turn.reasons),
        "escalation_id": str(esc.id) if esc is not None else None,
    }


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], **extra: Any) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": extra.pop("finish", None)}],
        **extra,
    }
    return json.dumps(body)


async def _chunks(
    events: AsyncIterator[Any], cid: str, created: int, model: str
) -> AsyncIterator[ServerSentEvent]:
    """OpenAI ``chat.completion.chunk`` events: role, content deltas, stop, ``[DONE]``."""
    yield ServerSentEvent(_chunk(cid, created, model, {"role": "assistant", "content": ""}))
    streamed = ""
    try:
        async for event in events:
            if event.type == "token" and event.data.get("text"):
                streamed += event.data["text"]
                yield ServerSentEvent(_chunk(cid, created, model, {"content": event.data["text"]}))
            elif event.type == "final" and event.result is not None:
                turn = event.result
                text = _reply_text(turn)
                # Offline replies, staff replies and the waiting notice arrive only here; a
                # reply that extends what was streamed sends the rest.
                rest = text[len(streamed) :] if text.startswith(streamed) else ""
                if rest:
                    yield ServerSentEvent(_chunk(cid, created, model, {"content": rest}))
                yield ServerSentEvent(
                    _chunk(cid, created, model, {}, finish="stop", grace=_extension(turn))
                )
    except Exception as exc:  # the stream has started: report in-band, as OpenAI does
        yield ServerSentEvent(json.dumps({"error": stream_error(exc)}))
    yield ServerSentEvent("[DONE]")
