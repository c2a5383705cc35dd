"""Per-request context shared by every layer (request ids for audit rows and logs)."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

#: Set by the API middleware / CLI for the duration of one request or command.
request_id_var: ContextVar[str | None] = ContextVar("grace_request_id", default=None)


def current_request_id() -> str:
    """The request id bound to this context, or a fresh random one (32 hex chars)."""
    return request_id_var.get() or uuid.uuid4().hex
