"""Recorded response shapes of the OpenAI and Anthropic chat APIs, for respx routes.

Bodies follow what the services return (field names, nesting, SSE event order), trimmed of
values no client reads. Use them with ``respx`` so the real ``ChatOpenAI`` / ``ChatAnthropic``
clients parse them; no test ever reaches a provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

OPENAI_CHAT_URL = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_MESSAGES_URL = "https://api.anthropic.com/v1/messages"

_OPENAI_MODEL = "gpt-4o-mini-2024-07-18"
_ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"
_SSE = {"content-type": "text/event-stream; charset=utf-8"}


def openai_completion(
    content: str | None = "Hello!", *, tool_calls: Sequence[tuple[str, dict[str, Any]]] = ()
) -> httpx.Response:
    """``POST /v1/chat/completions`` answer: text, or tool calls ``(name, args)``."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": [],
    }
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}abc",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(tool_calls)
        ]
    body = {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": _OPENAI_MODEL,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }
    return httpx.Response(200, json=body)


def openai_stream(tokens: Sequence[str]) -> httpx.Response:
    """Streamed completion (``stream_options.include_usage``): role, tokens, stop, usage."""
    head = {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": 1741569952,
        "model": _OPENAI_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> str:
        choices = [] if usage else [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        ]  # fmt: skip
        return "data: " + json.dumps({**head, "choices": choices, "usage": usage}) + "\n\n"

    usage = {"prompt_tokens": 8, "completion_tokens": len(tokens), "total_tokens": 8 + len(tokens)}
    events = [chunk({"role": "assistant", "content": "", "refusal": None})]
    events += [chunk({"content": t}) for t in tokens]
    events += [chunk({}, "stop"), chunk({}, usage=usage), "data: [DONE]\n\n"]
    return httpx.Response(200, headers=_SSE, content="".join(events).encode())


def openai_error(status: int, message: str, err_type: str, code: str | None) -> httpx.Response:
    """OpenAI error envelope."""
    body = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
    return httpx.Response(status, json=body)


def anthropic_message(
    text: str | None = "Hello!", *, tool_uses: Sequence[tuple[str, dict[str, Any]]] = ()
) -> httpx.Response:
    """``POST /v1/messages`` answer: a text block and/or ``tool_use`` blocks ``(name, input)``."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [
        {"type": "tool_use", "id": f"toolu_01{i}X", "name": name, "input": args}
        for i, (name, args) in enumerate(tool_uses)
    ]
    body = {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": _ANTHROPIC_MODEL,
        "content": content,
        "stop_reason": "tool_use" if tool_uses else "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 21,
            "output_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
    return httpx.Response(200, json=body)


def anthropic_stream(
    tokens: Sequence[str], *, tool_use: tuple[str, dict[str, Any]] | None = None
) -> httpx.Response:
    """Streamed message: message_start, a text block with one delta per token, then optionally
    a ``tool_use`` block whose input arrives as ``input_json_delta`` pieces, message_stop."""

    def event(kind: str, **data: Any) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

    start: dict[str, Any] = {
        "id": "msg_01stream",
        "type": "message",
        "role": "assistant",
        "model": _ANTHROPIC_MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 21, "output_tokens": 1},
    }
    events = [
        event("message_start", message=start),
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        event("ping"),
        *(
            event("content_block_delta", index=0, delta={"type": "text_delta", "text": t})
            for t in tokens
        ),
        event("content_block_stop", index=0),
    ]
    if tool_use:
        name, args = tool_use
        block = {"type": "tool_use", "id": "toolu_01S", "name": name, "input": {}}
        raw = json.dumps(args)
        pieces = [raw[: len(raw) // 2], raw[len(raw) // 2 :]]
        events += [
            event("content_block_start", index=1, content_block=block),
            *(
                event("content_block_delta", index=1, delta={"type": "input_json_delta",
                                                              "partial_json": p})
                for p in pieces
            ),
            event("content_block_stop", index=1),
        ]  # fmt: skip
    stop = {"stop_reason": "tool_use" if tool_use else "end_turn", "stop_sequence": None}
    events += [
        event("message_delta", delta=stop, usage={"output_tokens": len(tokens) + 1}),
        event("message_stop"),
    ]
    return httpx.Response(200, headers=_SSE, content="".join(events).encode())


def anthropic_error(status: int, err_type: str, message: str) -> httpx.Response:
    """Anthropic error envelope (e.g. 401 ``authentication_error``, 529 ``overloaded_error``)."""
    body = {"type": "error", "error": {"type": err_type, "message": message}}
    return httpx.Response(status, json=body)


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class ProviderApi:
    """One provider's endpoint and answer builders, to parametrize tests over both providers.

    Attributes:
        name: ``openai`` or ``anthropic`` (as in the settings).
        url: The chat endpoint the client posts to.
        reply: A text answer.
        tool_call: A tool call ``(name, args)``; its id is ``tool_call_id``.
        stream: A streamed text answer, one event per token.
        error: An error answer with that HTTP status.
        tool_call_id: Id given to the first tool call by ``tool_call``.
        key: A fake API key for this provider.
        auth: The request header carrying ``key``, and its expected value.
        model: A current model id (the request's ``model``).
    """

    name: str
    url: str
    reply: Callable[[str], httpx.Response]
    tool_call: Callable[[str, dict[str, Any]], httpx.Response]
    stream: Callable[[Sequence[str]], httpx.Response]
    error: Callable[[int], httpx.Response]
    tool_call_id: str
    key: str
    auth: tuple[str, str]
    model: str


PROVIDERS: dict[str, ProviderApi] = {
    "openai": ProviderApi(
        name="openai",
        url=OPENAI_CHAT_URL,
        reply=openai_completion,
        tool_call=lambda name, args: openai_completion(None, tool_calls=[(name, args)]),
        stream=openai_stream,
        error=lambda status: openai_error(
            status, "Incorrect API key provided: sk-tes***4242.", _ERROR_TYPES[status], None
        ),
        tool_call_id="call_0abc",
        key="sk-test-openai-4242",
        auth=("authorization", "Bearer sk-test-openai-4242"),
        model="gpt-4o-mini",
    ),
    "anthropic": ProviderApi(
        name="anthropic",
        url=ANTHROPIC_MESSAGES_URL,
        reply=anthropic_message,
        tool_call=lambda name, args: anthropic_message(None, tool_uses=[(name, args)]),
        stream=anthropic_stream,
        error=lambda status: anthropic_error(status, _ERROR_TYPES[status], "invalid x-api-key"),
        tool_call_id="toolu_010X",
        key="sk-ant-test-4242",
        auth=("x-api-key", "sk-ant-test-4242"),
        model="claude-haiku-4-5",
    ),
}
