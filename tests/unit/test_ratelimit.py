"""Per-key rate limiting in process (memory storage) and the 429 problem it produces."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from api.auth.deps import rate_limited
from api.auth.principal import Principal
from api.auth.setup import install_security
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError
from api.ratelimit import MODE_MEMORY, RateLimiter
from graphs.core.settings import Settings


async def test_memory_limiter_counts_per_key() -> None:
    limiter = RateLimiter(Settings(), limit="3/minute")
    assert limiter.status() == {
        "mode": MODE_MEMORY,
        "limit": "3 per 1 minute",
        "redis_configured": False,
        "error": None,
    }
    outcomes = [await limiter.hit("key-a") for _ in range(4)]
    assert [o.allowed for o in outcomes] == [True, True, True, False]
    refused = outcomes[-1]
    assert 1 <= refused.retry_after_s <= 60 and refused.remaining == 0
    assert (await limiter.hit("key-b")).allowed  # another key has its own budget
    await limiter.reset()
    assert (await limiter.hit("key-a")).allowed


def _app(limit: str) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(rate_limit=limit)
    install_security(app, app.state.settings, dev=True)  # dev: keyless requests are admin

    @app.exception_handler(ProblemError)
    async def problem(request: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(
            exc.to_dict(request.url.path), exc.status, exc.headers, media_type=PROBLEM_MEDIA_TYPE
        )

    @app.get("/ping")
    async def ping(who: Annotated[Principal, Depends(rate_limited)]) -> dict[str, str]:
        return {"key": who.key_id}

    return app


async def test_over_the_limit_answers_429_with_retry_after() -> None:
    transport = httpx.ASGITransport(app=_app("2/minute"))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert [(await client.get("/ping")).status_code for _ in range(2)] == [200, 200]
        refused = await client.get("/ping")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 60
    body = refused.json()
    assert body["type"].endswith("/rate-limited") and body["retry_after"] == retry
