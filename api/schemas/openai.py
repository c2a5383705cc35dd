"""OpenAI wire-format schemas (``/v1/chat/completions``, ``/v1/models``).

Only what the official client sends and reads is modelled; unknown sampling options
(``temperature``, ``top_p``...) are accepted and ignored, since the personas decide how they
answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from api.schemas.chat import MAX_MESSAGE_CHARS
from api.schemas.common import ThreadId


class ContentPart(BaseModel):
    """A part of a multi-part message; only ``text`` parts are read."""

    type: Annotated[str, StringConstraints(max_length=32)]
    text: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)] | None = None

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"type": "text", "text": "Hello"}]}
    )


class ChatMessage(BaseModel):
    """One message of the conversation the client sends."""

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: (
        Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)]
        | Annotated[list[ContentPart], Field(max_length=32)]
        | None
    ) = None
    name: Annotated[str, StringConstraints(max_length=64)] | None = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"role": "user", "content": "Is the gallery open?"}]},
    )

    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or [] if p.type == "text")


class CompletionMetadata(BaseModel):
    """``metadata``: ``thread_id`` continues a Grace conversation (like ``X-Grace-Thread``)."""

    thread_id: ThreadId | None = None

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"thread_id": "t-1b2c3d4e5f60"}]}
    )


class CompletionRequest(BaseModel):
    """An OpenAI chat completion request.

    ``model`` is ``grace`` (Grace routes) or a persona name (talk to it directly). The last
    ``user`` message is the turn; earlier messages are not replayed, because the conversation
    lives server-side: continue one with the ``X-Grace-Thread`` header or
    ``metadata.thread_id`` (the response's ``grace.thread_id`` and ``X-Grace-Thread`` header
    give it). Without either, every request starts a new conversation.
    """

    model: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=256)]
    stream: StrictBool = False
    user: Annotated[str, StringConstraints(max_length=256)] | None = None
    metadata: CompletionMetadata | None = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "grace",
                    "messages": [{"role": "user", "content": "Can I book a sound bath?"}],
                    "stream": False,
                }
            ]
        },
    )


class AssistantMessage(BaseModel):
    """The reply message."""

    role: Literal["assistant"] = "assistant"
    content: str
    name: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "assistant", "content": "Yes, on Tuesday.", "name": "solari"}]
        }
    )


class Choice(BaseModel):
    """The only choice (``n`` > 1 is not offered)."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Yes, on Tuesday."},
                    "finish_reason": "stop",
                }
            ]
        }
    )


class Usage(BaseModel):
    """Whitespace-separated word counts (an approximation of tokens; no tokenizer is run)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}]
        }
    )


class GraceExtension(BaseModel):
    """Grace's own facts about the turn (a non-standard member; clients may ignore it)."""

    thread_id: str
    persona: str | None
    agent: str | None = Field(
        deprecated="Use `persona`.", description="Deprecated: same as `persona`."
    )
    level: int
    reasons: list[str]
    escalation_id: str | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "thread_id": "t-1b2c3d4e5f60",
                    "persona": "solari",
                    "level": 1,
                    "reasons": [],
                    "escalation_id": None,
                }
            ]
        }
    )


class Completion(BaseModel):
    """An OpenAI ``chat.completion`` object."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    grace: GraceExtension

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "chatcmpl-5f0c2a1b9d8e",
                    "object": "chat.completion",
                    "created": 1795456800,
                    "model": "grace",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "Yes, on Tuesday."},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
                    "grace": {
                        "thread_id": "t-1b2c3d4e5f60",
                        "persona": "solari",
                        "level": 1,
                        "reasons": [],
                        "escalation_id": None,
                    },
                }
            ]
        }
    )


class Model(BaseModel):
    """An OpenAI ``model`` object: ``grace`` or a persona."""

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "grace-fields"
    description: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "solari",
                    "object": "model",
                    "created": 0,
                    "owned_by": "grace-fields",
                    "description": "Bookings and scheduling",
                }
            ]
        }
    )


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[Model]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "list",
                    "data": [
                        {"id": "grace", "object": "model", "created": 0, "owned_by": "grace-fields"}
                    ],
                }
            ]
        }
    )


def usage_of(prompt: str, reply: str) -> dict[str, Any]:
    """Approximate usage: whitespace-separated word counts."""
    p, c = len(prompt.split()), len(reply.split())
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
