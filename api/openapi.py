"""The OpenAPI document: problem bodies, security schemes and self-contained schemas.

FastAPI documents additional responses as ``application/json``, adds its own
``HTTPValidationError`` schema for 422 and knows nothing of the API-key security layer (it is
middleware and dependencies, not FastAPI security classes). The generated document is
rewritten so that it says what the app does:

* every 4xx/5xx body is RFC 9457 ``application/problem+json`` with the
  :class:`~api.schemas.common.Problem` shape;
* the statuses every operation can return are listed: 500 (``internal-error``) everywhere,
  503 (``database-unavailable``) on every ``/v1`` operation, and 400 (unparsable JSON) and
  413 (too large) on every one with a body;
* ``components.securitySchemes`` has ``bearerAuth`` (``Authorization: Bearer``) and
  ``apiKeyHeader`` (``X-API-Key``), and each operation that checks a key lists both (so
  ``/docs`` offers *Authorize*); webhooks (signed) and health probes list none;
* schemas inlined in ``openapi_extra`` (the webhook bodies) have their ``$defs`` moved to
  ``components.schemas``, so every ``$ref`` resolves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
#: The security layer's module: a route depending on anything in it checks an API key.
AUTH_MODULE = "api.auth.deps"
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`gf_<prefix>_<secret>`) as `Authorization: Bearer <key>`.",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key in `X-API-Key` (Authorization wins when both come).",
    },
}
#: Either scheme satisfies an operation.
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
#: Statuses every operation may answer, whatever it does.
_ALWAYS = {500: "Unexpected server error (logged; no trace in the body)"}
_DATABASE = {503: "The database (or another dependency) is unavailable; see Retry-After"}
_BODY = {400: "The body is not valid JSON", 413: "Request body too large"}
_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """An ``app.openapi`` replacement producing the rewritten document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description,
            routes=app.routes, tags=app.openapi_tags,
        )  # fmt: skip
        rewrite(schema, secured=secured_operations(app.routes))
        app.openapi_schema = schema
        return schema

    return openapi


def secured_operations(routes: Iterable[BaseRoute]) -> set[tuple[str, str]]:
    """``(path, method)`` of every operation whose dependencies check an API key.

    Args:
        routes: The app's routes.

    Returns:
        Paths as documented (``/v1/threads/{thread_id}``) with lower-case methods.
    """
    out: set[tuple[str, str]] = set()
    for route in iter_route_contexts(list(routes)):  # included routers flattened
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        if any(_is_auth(d) for d in _dependants(route.dependant)):
            out.update((str(route.path_format), m.lower()) for m in route.methods or ())
    return out


def _dependants(root: Dependant) -> Iterator[Dependant]:
    stack = [root]
    while stack:
        dependant = stack.pop()
        yield dependant
        stack.extend(dependant.dependencies)


def _is_auth(dependant: Dependant) -> bool:
    return getattr(dependant.call, "__module__", None) == AUTH_MODULE


def rewrite(schema: dict[str, Any], *, secured: set[tuple[str, str]] | None = None) -> None:
    """Rewrite a generated document in place (see the module docstring).

    Args:
        schema: FastAPI's generated OpenAPI document.
        secured: Operations that check an API key (:func:`secured_operations`); ``None``
            leaves security out.
    """
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    if "Problem" not in schemas:
        from api.schemas.common import Problem

        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas["Problem"].pop("$defs", {}))
    if secured is not None:
        components["securitySchemes"] = SECURITY_SCHEMES
    for path, path_item in schema.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            _hoist_defs(operation, schemas)
            responses = operation.setdefault("responses", {})
            extra = dict(_ALWAYS)
            if path.startswith("/v1/"):
                extra.update(_DATABASE)
            if "requestBody" in operation:
                extra.update(_BODY)
            for status, text in extra.items():
                responses.setdefault(str(status), {"description": text})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
            if secured is not None:
                operation["security"] = SECURITY if (path, method) in secured else []
    for name in ("HTTPValidationError", "ValidationError"):
        if not _referenced(schema, name):
            schemas.pop(name, None)


def _hoist_defs(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Move ``$defs`` of inlined request-body schemas to ``components.schemas``."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        body_schema = media.get("schema", {})
        for name, definition in body_schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)


def _referenced(schema: dict[str, Any], name: str) -> bool:
    return f'"#/components/schemas/{name}"' in json.dumps(schema.get("paths", {}))
