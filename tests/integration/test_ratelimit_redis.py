"""Rate limits shared through the real Redis (127.0.0.1:6379), and the fallback when it is down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from structlog.testing import capture_logs

from api.ratelimit import MODE_FALLBACK, MODE_REDIS, RateLimiter
from graphs.core.settings import Settings

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/0"
CLOSED_PORT = "redis://127.0.0.1:1/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"test-ratelimit-{uuid.uuid4().hex[:12]}"
    yield name
    client = aioredis.Redis.from_url(REDIS)
    keys = [k async for k in client.scan_iter(match=f"{name}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_replicas_share_one_limit(prefix: str) -> None:
    settings = Settings(redis_url=SecretStr(REDIS), rate_limit="3/minute")
    a = RateLimiter(settings, key_prefix=prefix)  # replica A
    b = RateLimiter(settings, key_prefix=prefix)  # replica B, same Redis and prefix
    try:
        assert [(await a.hit("key-1")).allowed for _ in range(2)] == [True, True]
        assert (await b.hit("key-1")).allowed
        refused_a, refused_b = await a.hit("key-1"), await b.hit("key-1")
        assert not refused_a.allowed and not refused_b.allowed
        assert 1 <= refused_b.retry_after_s <= 60
        assert (await b.hit("key-2")).allowed  # per key
        assert a.status()["mode"] == MODE_REDIS and (await a.probe())["mode"] == MODE_REDIS

        client = aioredis.Redis.from_url(REDIS)
        stored = [k async for k in client.scan_iter(match=f"{prefix}*")]
        await client.aclose()
        assert stored, "counts must live in Redis under the configured prefix"

        isolated = RateLimiter(settings, key_prefix=prefix + "-other")
        assert (await isolated.hit("key-1")).allowed  # another prefix: another count
        await isolated.close()
    finally:
        await a.close()
        await b.close()


async def test_redis_down_falls_back_to_memory_and_says_so() -> None:
    settings = Settings(redis_url=SecretStr(CLOSED_PORT), rate_limit="2/minute")
    limiter = RateLimiter(settings, key_prefix="unused", redis_retry_s=0)  # retry every hit
    with capture_logs() as logs:
        outcomes = [await limiter.hit("key-1") for _ in range(3)]
        status = await limiter.probe()
    assert [o.allowed for o in outcomes] == [True, True, False]  # still limited, in process
    assert outcomes[-1].retry_after_s >= 1
    assert status["mode"] == MODE_FALLBACK == "memory (redis unavailable)"
    assert status["redis_configured"] and status["error"]
    warnings = [e for e in logs if e["event"] == "redis_down"]
    assert len(warnings) == 1, logs  # logged once (the shared breaker), not per request
    assert warnings[0]["user"] == "rate_limiter" and "Error" in warnings[0]["error"]
    await limiter.close()


async def test_shared_limiting_resumes_when_redis_answers_again(
    prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from limits.errors import StorageError

    settings = Settings(redis_url=SecretStr(REDIS), rate_limit="5/minute")
    limiter = RateLimiter(settings, key_prefix=prefix, redis_retry_s=0)
    assert limiter._redis_limiter is not None
    real_hit = limiter._redis_limiter.hit
    failures = iter([True])

    async def flaky_hit(*args: object, **kwargs: object) -> bool:
        if next(failures, False):
            raise StorageError(ConnectionError("connection reset"))
        return await real_hit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(limiter._redis_limiter, "hit", flaky_hit)
    with capture_logs() as logs:
        assert (await limiter.hit("key-1")).allowed  # counted in memory meanwhile
        assert limiter.status()["mode"] == MODE_FALLBACK
        assert "connection reset" in limiter.status()["error"]
        assert (await limiter.hit("key-1")).allowed  # retried on Redis: shared again
    assert [e["event"] for e in logs if e["event"] == "redis_down"] == ["redis_down"]  # once
    assert limiter.status() == {
        "mode": MODE_REDIS, "limit": "5 per 1 minute", "redis_configured": True, "error": None,
    }  # fmt: skip
    await limiter.close()
