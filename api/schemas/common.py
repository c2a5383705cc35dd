"""Schemas shared by every resource: the RFC 9457 problem body and small reusable types."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

#: A conversation id: letters, digits and ``_ . : -`` (1-128 characters).
ThreadId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$", max_length=128)
]
#: The one rule for collection names (API bodies, search filters and webhooks): a letter or
#: digit, then up to 63 letters, digits or ``_ . -``.
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
#: A knowledge collection name (see :data:`COLLECTION_PATTERN`).
Collection = Annotated[str, StringConstraints(pattern=COLLECTION_PATTERN)]
#: A persona name as callers type it (``nyra``, ``Solari``...), checked against the registry.
PersonaRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


def reject_nul(value: Any) -> Any:
    """Refuse NUL characters anywhere in a string or JSON value (PostgreSQL cannot store them).

    Raises:
        ValueError: a string (or a key or string inside a JSON object/array) contains U+0000.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("NUL characters (U+0000) are not allowed")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def json_integer(value: Any) -> Any:
    """Refuse what JSON Schema's ``integer`` refuses: booleans and strings.

    JSON numbers with no fraction (``30`` or ``30.0``) pass on to ``int`` validation, which
    refuses ``30.5``; ``true``/``false`` and ``"30"`` are refused here (pydantic's lax ``int``
    would take them as 1/0 and 30).

    Raises:
        PydanticCustomError: ``int_type``, for a boolean or a string.
    """
    if isinstance(value, bool | str):
        raise PydanticCustomError(
            "int_type", "Input should be a valid integer, not a {kind}",
            {"kind": "boolean" if isinstance(value, bool) else "string"},
        )  # fmt: skip
    return value


#: A body integer with JSON Schema semantics (no booleans, no strings; ``3.0`` is 3).
Integer = Annotated[int, BeforeValidator(json_integer)]
#: A free JSON object stored as-is (no NUL characters anywhere).
JsonObject = Annotated[dict[str, Any], AfterValidator(reject_nul)]
#: Text stored in the database (no NUL characters).
NoNul = AfterValidator(reject_nul)


class ApiModel(BaseModel):
    """Base of every request and response body: unknown fields are rejected on input."""

    model_config = ConfigDict(extra="forbid")


class FieldError(BaseModel):
    """One invalid input field (inside a 422 problem).

    Attributes:
        field: Dotted location, e.g. ``body.message`` or ``query.limit``.
        message: What is wrong with it.
        type: Pydantic's error type, e.g. ``string_too_long``.
    """

    field: str
    message: str
    type: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "field": "body.message",
                    "message": "String should have at most 8000 characters",
                    "type": "string_too_long",
                }
            ]
        }
    )


class Problem(BaseModel):
    """An RFC 9457 problem details body (``application/problem+json``).

    ``type`` is a stable URI per kind of problem (its last path segment is the slug);
    extension members carry details such as ``errors`` (validation) or ``allowed`` events.
    """

    type: str = Field(description="Stable URI identifying the kind of problem.")
    title: str = Field(description="Short summary, the same for every occurrence.")
    status: int = Field(ge=100, le=599, description="HTTP status code.")
    detail: str | None = Field(default=None, description="What happened this time.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldError] | None = Field(
        default=None, description="Invalid fields (validation problems only)."
    )

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://gracefields.dev/problems/invalid-transition",
                    "title": "Transition not possible",
                    "status": 409,
                    "detail": "WF-WELL-BOOK: 'payment_received' cannot happen in state "
                    "'inquiry'; events possible now: consultation_scheduled",
                    "instance": "/v1/instances/6f1c2b9e-7f0e-4d1a-9a53-2f4f7e0c1d2a/events",
                }
            ]
        },
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem bodies for ``statuses``.

    The app's OpenAPI post-processing moves these schemas to ``application/problem+json``.
    """
    descriptions = {
        400: "Bad request",
        401: "Missing or invalid API key",
        403: "Not allowed for this key's role, or not your resource",
        404: "Not found",
        409: "Conflict with the resource's current state",
        413: "Request body too large",
        422: "Invalid input (the `errors` member names each field)",
        429: "Rate limit exceeded (see Retry-After)",
        503: "Not ready",
    }
    return {s: {"model": Problem, "description": descriptions.get(s, "Problem")} for s in statuses}


def sse_content(events: list[str] | None = None) -> dict[str, Any]:
    """OpenAPI ``content`` entry for a Server-Sent Events stream.

    Per OpenAPI 3.1 usage, ``schema`` describes one event: ``event`` (one of ``events`` when
    given) and ``data`` (a JSON text; ``[DONE]`` ends OpenAI streams).
    """
    event: dict[str, Any] = {"type": "string"}
    if events:
        event["enum"] = events
    return {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "required": ["data"],
                "properties": {
                    "event": event,
                    "data": {"type": "string"},
                    "id": {"type": "string"},
                    "retry": {"type": "integer"},
                },
            }
        }
    }
