"""``/healthz`` (the process answers), ``/readyz`` (dependencies ready) and ``/metrics``.

None of them needs an API key: orchestrators and Prometheus call them. ``/metrics`` shows
counts only (no ids, no message text).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict

from api.deps import MetricsDep
from api.problems import ProblemError
from api.schemas.common import problem_responses
from graphs.core.redis import get_redis

router = APIRouter(tags=["health"])

#: Seconds each readiness probe may take before it counts as failed.
PROBE_TIMEOUT_S = 2.0


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"] = "ok"

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})


class Readiness(BaseModel):
    """Every dependency answered; ``checks`` says what each one reported."""

    status: Literal["ready"] = "ready"
    checks: dict[str, Any]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": {
                        "database": {"ok": True},
                        "redis": {"ok": True, "configured": False},
                        "embedder": {"ok": True, "model": "sentence-transformers/all-MiniLM-L6-v2"},
                        "llm": {"ok": True, "provider": "offline", "model": None},
                    },
                }
            ]
        }
    )


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Health:
    """200 whenever the process can answer."""
    return Health()


async def _database(request: Request) -> dict[str, Any]:
    async with request.app.state.db.connection() as conn:
        await conn.execute("SELECT 1")
    return {"ok": True}


async def _redis(request: Request) -> dict[str, Any]:
    client = get_redis(request.app.state.settings)
    if client is None:
        return {"ok": True, "configured": False}
    await client.ping()
    return {"ok": True, "configured": True}


async def _embedder(request: Request) -> dict[str, Any]:
    deps = request.app.state.runtime.deps
    embedder = deps.retriever.embedder if deps.retriever is not None else None
    if embedder is None:
        return {"ok": True, "model": None}
    loaded = bool(getattr(embedder, "loaded", True))
    return {"ok": loaded, "model": str(getattr(embedder, "model", "?")),
            **({} if loaded else {"error": "model still loading"})}  # fmt: skip


async def _language_model(request: Request) -> dict[str, Any]:
    from agents.llm.providers import provider_info

    info = provider_info(request.app.state.settings)  # never raises, never shows a key
    return {"ok": "error" not in info, **info}


async def _probe(name: str, check: Any, request: Request) -> tuple[str, dict[str, Any]]:
    try:
        return name, await asyncio.wait_for(check(request), PROBE_TIMEOUT_S)
    except Exception as exc:  # a probe failure is a "not ready", never a 500
        return name, {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


@router.get(
    "/readyz", response_model=Readiness, summary="Readiness",
    responses=problem_responses(503),
)  # fmt: skip
async def readyz(request: Request) -> Readiness:
    """200 when every dependency is ready, else a 503 problem naming the failed checks.

    Ready means: the database answers, Redis answers (when configured), the embedder is
    loaded and the language-model settings are valid (``llm``: which provider and model answer,
    ``offline`` without one; :func:`agents.llm.providers.provider_info`). The problem's
    ``checks`` member holds every probe's result.
    """
    probes = {
        "database": _database,
        "redis": _redis,
        "embedder": _embedder,
        "llm": _language_model,
    }
    checks = dict(await asyncio.gather(*(_probe(n, c, request) for n, c in probes.items())))
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        checks["rate_limiter"] = {"ok": True, **limiter.status()}
    if not all(c["ok"] for c in checks.values()):
        failed = ", ".join(n for n, c in checks.items() if not c["ok"])
        raise ProblemError(
            503, "not-ready", "Not ready", f"Not ready: {failed}", checks=checks,
            headers={"Retry-After": "5"},
        )  # fmt: skip
    return Readiness(checks=checks)


@router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)  # fmt: skip
async def metrics(m: MetricsDep) -> Response:
    """The Prometheus text exposition format (version 0.0.4)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
