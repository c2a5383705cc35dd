"""Exception handlers: every error the API returns is RFC 9457 ``application/problem+json``.

Typed domain errors map to a stable slug and status (the slug ends the problem ``type`` URI):

==============================  ======  ===============================================
error                           status  slug
==============================  ======  ===============================================
``ProblemError``                its own its own
request validation              422     ``validation-error`` (``errors`` names each field)
unknown route / method          404/405 ``not-found`` / ``method-not-allowed`` (``Allow``
                                        and ``allowed``: every method of the path)
``WorkflowError`` subclasses    engine  the error's ``code`` (``not-owner`` 403,
                                        ``human-approval-required`` 403,
                                        ``invalid-transition`` 409, ``stale-version`` 409,
                                        ``concurrent-update`` 409, ``unknown-workflow`` 404,
                                        ``unknown-instance`` 404, ``unknown-event`` 422,
                                        ``idempotency-key-reused`` 422, ``invalid-actor``
                                        422, ``invalid-payload`` 422)
``ThreadBusyError``             409     ``thread-waiting-for-person``
``UnknownPersonaError``         404     ``unknown-persona``
``EscalationNotFoundError``     404     ``unknown-escalation``
``EscalationAlreadyResolved…``  409     ``escalation-already-resolved``
``JobNotFoundError``            404     ``unknown-job``
``DatabaseUnavailableError``,   503     ``database-unavailable`` (``Retry-After: 5``; logged
``psycopg.OperationalError``,           once per outage, not per request)
``psycopg_pool.PoolTimeout``
``psycopg.DataError``           422     ``invalid-data`` (a value the database cannot store)
anything else                   500     ``internal-error`` (logged; no trace in the body)
==============================  ======  ===============================================

``idempotency-key-reused`` is 422, as the engine declares it, following the IETF
Idempotency-Key draft (a key reused with a different request: 422 Unprocessable Content).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents.registry import UnknownPersonaError
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from graphs.core.database import DatabaseUnavailableError
from graphs.escalation_store import EscalationAlreadyResolvedError, EscalationNotFoundError
from graphs.runtime import ThreadBusyError
from graphs.workflows.errors import WorkflowError
from knowledge.jobs import JobNotFoundError

log = structlog.get_logger("grace.api")

#: Titles of the workflow engine's refusals, by error code.
WORKFLOW_TITLES: dict[str, str] = {
    "unknown-workflow": "Unknown workflow",
    "unknown-instance": "Unknown workflow instance",
    "unknown-event": "Unknown event",
    "invalid-transition": "Transition not possible",
    "not-owner": "Not the owner of this step",
    "human-approval-required": "A person must take this step",
    "conflict": "Conflict",
    "stale-version": "Stale version",
    "concurrent-update": "Concurrent update",
    "idempotency-key-reused": "Idempotency key reused",
    "invalid-payload": "Invalid payload",
    "invalid-actor": "Invalid actor",
}
_WORKFLOW_EXTRAS = ("workflow_id", "event", "state", "allowed", "expected", "actual", "owner")


def problem_response(request: Request, problem: ProblemError) -> JSONResponse:
    """The ``application/problem+json`` response for ``problem``."""
    return JSONResponse(
        problem.to_dict(instance=request.url.path),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def workflow_problem(exc: WorkflowError) -> ProblemError:
    """Translate an engine refusal into a problem with the error's stable code and status."""
    extra: dict[str, Any] = {}
    for name in _WORKFLOW_EXTRAS:
        value = getattr(exc, name, None)
        if value is not None:
            extra[name] = value if isinstance(value, (int, str, list)) else str(value)
    return ProblemError(
        exc.status,
        exc.code,
        WORKFLOW_TITLES.get(exc.code, "Workflow refusal"),
        str(exc),
        **extra,
    )


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


def validation_problem(exc: RequestValidationError) -> ProblemError:
    """A 422 problem whose ``errors`` member names every invalid field by its location.

    A malformed ``Idempotency-Key`` alone is the 400 ``invalid-idempotency-key`` that
    :func:`api.idempotency.parse_key` gives (the header's schema pattern is checked first).
    """
    from api.idempotency import HEADER, parse_key

    raw = exc.errors()
    if raw and all(tuple(e.get("loc", ()))[:2] == ("header", HEADER) for e in raw):
        parse_key(str(raw[0].get("input", "")))  # raises the 400 problem
    errors = [
        {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "")),
         "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]  # fmt: skip
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return ProblemError(422, "validation-error", "Invalid request", detail, errors=errors)


def _http_problem(exc: StarletteHTTPException) -> ProblemError:
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    slug = phrase.lower().replace(" ", "-").replace("'", "")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    return ProblemError(exc.status_code, slug, phrase, detail, headers=dict(exc.headers or {}))


def to_problem(exc: Exception) -> ProblemError | None:
    """The problem for a known exception, or None for an unexpected one."""
    if isinstance(exc, ProblemError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_problem(exc)
    if isinstance(exc, StarletteHTTPException):
        return _http_problem(exc)
    if isinstance(exc, WorkflowError):
        return workflow_problem(exc)
    if isinstance(exc, ThreadBusyError):
        esc = str(exc.escalation.id) if exc.escalation else None
        return ProblemError(
            409, "thread-waiting-for-person", "Conversation waiting for a person", str(exc),
            thread_id=exc.thread_id, escalation_id=esc,
        )  # fmt: skip
    if isinstance(exc, UnknownPersonaError):
        return ProblemError(
            404, "unknown-persona", "Unknown persona", str(exc), valid=list(exc.valid)
        )
    if isinstance(exc, EscalationNotFoundError):
        return ProblemError(404, "unknown-escalation", "Unknown escalation", str(exc))
    if isinstance(exc, EscalationAlreadyResolvedError):
        return ProblemError(409, "escalation-already-resolved", "Already resolved", str(exc))
    if isinstance(exc, JobNotFoundError):
        return ProblemError(404, "unknown-job", "Unknown ingestion job", str(exc))
    if isinstance(exc, DatabaseUnavailableError | psycopg.OperationalError | PoolTimeout):
        _database_down(exc)
        return ProblemError(
            503, "database-unavailable", "Database unavailable",
            "The database cannot be reached right now; nothing was changed. Try again shortly.",
            headers={"Retry-After": "5"},
        )  # fmt: skip
    if isinstance(exc, psycopg.DataError):  # e.g. NUL in text: bad input, not a server fault
        return ProblemError(
            422, "invalid-data", "Invalid data",
            "The request contains a value the database cannot store.",
        )  # fmt: skip
    return None


#: Seconds during which further database failures are not logged again (one line per outage).
DATABASE_LOG_INTERVAL_S = 60.0
_last_database_log = [float("-inf")]


def _database_down(exc: Exception) -> None:
    """Log an unreachable database once per :data:`DATABASE_LOG_INTERVAL_S`, not per request."""
    import time

    now = time.monotonic()
    if now - _last_database_log[0] >= DATABASE_LOG_INTERVAL_S:
        _last_database_log[0] = now
        log.error("api.database_unavailable", error=str(exc)[:300])


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app accepts at the request's path, sorted.

    Starlette stops at the first route whose path matches, so its own ``Allow`` header names
    only that route's methods even when another route serves the same path (``GET`` and
    ``POST /v1/workflows/{id}/instances`` are two routes).
    """
    path = request.scope.get("path", request.url.path)
    methods: set[str] = set()
    for route in iter_route_contexts(list(request.app.router.routes)):  # routers flattened
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(route.methods or ())
    return sorted(methods)


def route_problem(request: Request, exc: StarletteHTTPException) -> ProblemError:
    """The problem for a routing 404/405 (or another bare HTTP error), with a ``detail``.

    A 405 lists, in ``Allow`` and in ``allowed``, every method the path accepts.
    """
    problem = _http_problem(exc)
    target = f"{request.method} {request.url.path}"
    if exc.status_code == 405:
        allowed = allowed_methods(request) or [
            m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()
        ]
        problem.headers["Allow"] = ", ".join(allowed)
        problem.extra["allowed"] = allowed
        problem.detail = problem.detail or (
            f"{request.method} is not allowed on {request.url.path}; allowed: {', '.join(allowed)}"
        )
    elif exc.status_code == 404 and problem.detail is None:
        problem.detail = f"No resource at {target}; see /docs for the routes."
    elif problem.detail is None:
        problem.detail = f"{problem.title} ({target})."
    return problem


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, StarletteHTTPException):
        return problem_response(request, route_problem(request, exc))
    problem = to_problem(exc)
    if problem is None:
        log.error("api.unhandled_error", path=request.url.path, method=request.method, exc_info=exc)
        problem = ProblemError(
            500, "internal-error", "Internal server error",
            "The server failed to handle this request; it has been logged.",
        )  # fmt: skip
    return problem_response(request, problem)


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app`` (typed errors first, then a catch-all)."""
    for exc_type in (
        ProblemError,
        RequestValidationError,
        StarletteHTTPException,
        WorkflowError,
        ThreadBusyError,
        UnknownPersonaError,
        EscalationNotFoundError,
        EscalationAlreadyResolvedError,
        JobNotFoundError,
        DatabaseUnavailableError,
        psycopg.OperationalError,
        PoolTimeout,
        psycopg.DataError,
        Exception,
    ):
        app.add_exception_handler(exc_type, _handle)
