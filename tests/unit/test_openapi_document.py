"""The OpenAPI document and the routing problems say what the app does (no server needed)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from graphs.core.settings import Settings

OPEN = {"/v1/webhooks/{source}", "/healthz", "/readyz", "/metrics"}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(), dev=True)  # no runtime opened: nothing here reaches one


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]


def test_every_ref_resolves(spec: dict[str, Any]) -> None:
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert refs and refs <= set(spec["components"]["schemas"])
    assert "$defs" not in json.dumps(spec["paths"])
    webhook = spec["paths"]["/v1/webhooks/{source}"]["post"]["requestBody"]
    assert "KnowledgeIngestBody" in json.dumps(webhook)


def test_security_schemes_cover_every_keyed_operation(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert (schemes["apiKeyHeader"]["in"], schemes["apiKeyHeader"]["name"]) == (
        "header",
        "X-API-Key",
    )
    for path, method, op in _operations(spec):
        expected: list[dict[str, list[str]]] = (
            [] if path in OPEN else [{"bearerAuth": []}, {"apiKeyHeader": []}]
        )
        assert op["security"] == expected, (method, path)


def test_generic_statuses_are_documented_as_problems(spec: dict[str, Any]) -> None:
    for path, method, op in _operations(spec):
        responses = op["responses"]
        assert "500" in responses, (method, path)
        if path.startswith("/v1/"):
            assert "503" in responses, (method, path)
        if "requestBody" in op:
            assert "413" in responses, (method, path)
        for status, response in responses.items():
            if int(status) >= 400:
                assert list(response["content"]) == ["application/problem+json"]


async def _call(app: FastAPI, method: str, url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.request(method, url)


async def test_405_allows_every_method_of_the_path(app: FastAPI) -> None:
    r = await _call(app, "DELETE", "/v1/workflows/WF-WELL-BOOK/instances")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
    body = r.json()
    assert body["type"].endswith("/method-not-allowed") and body["allowed"] == ["GET", "POST"]
    assert "DELETE" in body["detail"] and "GET, POST" in body["detail"]


async def test_404_has_a_detail(app: FastAPI) -> None:
    r = await _call(app, "GET", "/v1/no-such-thing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert "/v1/no-such-thing" in r.json()["detail"]
