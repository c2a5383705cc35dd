"""The OpenAPI document: error responses are ``application/problem+json`` everywhere.

FastAPI documents additional responses as ``application/json`` and adds its own
``HTTPValidationError`` schema for 422. The app answers every error as RFC 9457
``application/problem+json`` with the :class:`~api.schemas.common.Problem` shape, so the
generated document is rewritten to say exactly that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.problems import PROBLEM_MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def problem_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """An ``app.openapi`` replacement that documents problem bodies for every 4xx/5xx."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description,
            routes=app.routes, tags=app.openapi_tags,
        )  # fmt: skip
        rewrite(schema)
        app.openapi_schema = schema
        return schema

    return openapi


def rewrite(schema: dict[str, Any]) -> None:
    """Move error bodies to ``application/problem+json`` (in place); drop FastAPI's 422 shape."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in components:
        from api.schemas.common import Problem

        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(components["Problem"].pop("$defs", {}))
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}
    for name in ("HTTPValidationError", "ValidationError"):
        if not _referenced(schema, name):
            components.pop(name, None)


def _referenced(schema: dict[str, Any], name: str) -> bool:
    import json

    return f'"#/components/schemas/{name}"' in json.dumps(schema.get("paths", {}))
