"""Request body size limit: a pure ASGI middleware.

A request whose ``Content-Length`` exceeds the limit is answered 413 before the app runs (the
server's HTTP framing never delivers more than the declared length). A body without
``Content-Length`` (chunked transfer) is read and counted before the app runs, up to the limit,
and handed to the app as one message; past the limit the request is refused with 413 without
reading the rest. The answer is RFC 9457 ``application/problem+json`` with type
``…/problems/payload-too-large``.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PROBLEM_MEDIA_TYPE, ProblemError


def payload_too_large(limit: int) -> ProblemError:
    """The 413 problem for a body over ``limit`` bytes."""
    return ProblemError(
        413,
        "payload-too-large",
        "Payload too large",
        f"The request body is larger than the {limit}-byte limit.",
        max_body_bytes=limit,
    )


async def send_problem(send: Send, problem: ProblemError, path: str) -> None:
    """Send ``problem`` as a complete ``application/problem+json`` response."""
    body = json.dumps(problem.to_dict(instance=path)).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    """Refuse HTTP request bodies larger than ``max_body_bytes`` with 413.

    Args:
        app: The wrapped ASGI app.
        max_body_bytes: Largest accepted body in bytes (``settings.api_max_body_bytes``).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, or read and count an undeclared one."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        path = str(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await send_problem(send, payload_too_large(limit), path)
                return
            await self.app(scope, receive, send)
            return

        parts: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away before the body ended
                return
            chunk: bytes = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                await send_problem(send, payload_too_large(limit), path)
                return
            parts.append(chunk)
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    """The declared ``Content-Length`` (None when absent or malformed)."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
