"""Per-API-key rate limits: shared through Redis when configured, in-process otherwise.

The limit is ``settings.rate_limit`` in ``limits`` notation (``"120/minute"``), applied with a
moving window (``limits.aio.strategies.MovingWindowRateLimiter``): at most N requests in any
window of the given length, with no burst at window edges.

Storage: ``limits.aio.storage.RedisStorage`` (redis-py client) when ``settings.redis_url`` is
set, so every replica shares one count per key; ``MemoryStorage`` otherwise. If Redis is
configured but unreachable, the limiter falls back to in-process counting (each replica then
limits alone), reports ``mode = "memory (redis unavailable)"`` in :meth:`RateLimiter.status`
(for ``/readyz``) and tries Redis again every ``redis_retry_s``. The outage bookkeeping and its
once-only log lines are the shared :class:`graphs.core.redis.RedisBreaker`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from graphs.core.redis import RedisBreaker, redis_url

if TYPE_CHECKING:
    from graphs.core.settings import Settings

#: Default Redis key prefix of the shared counters (replicas must use the same one).
DEFAULT_KEY_PREFIX = "grace:ratelimit"

MODE_REDIS = "redis"
MODE_MEMORY = "memory"
MODE_FALLBACK = "memory (redis unavailable)"


@dataclass(frozen=True)
class RateLimitOutcome:
    """The result of counting one request.

    Attributes:
        allowed: False when the request exceeds the limit (answer 429).
        limit: The limit applied, ``limits`` notation (``"120 per 1 minute"``).
        remaining: Requests left in the current window when refused (0); ``-1`` when allowed
            (not computed, to save a storage round trip).
        retry_after_s: Whole seconds until the window frees a slot (0 when allowed).
    """

    allowed: bool
    limit: str
    remaining: int
    retry_after_s: int


def _async_uri(url: str) -> str:
    """Turn a ``redis://`` / ``rediss://`` / ``unix://`` URL into a ``limits`` async URI."""
    if url.startswith("unix://"):
        return "async+redis+unix://" + url[len("unix://") :]
    return url if url.startswith("async+") else "async+" + url


class RateLimiter:
    """Counts requests per key and says when one is over the limit.

    Args:
        settings: Gives ``rate_limit`` and ``redis_url``.
        limit: Override of ``settings.rate_limit`` (``limits`` notation).
        key_prefix: Prefix of the Redis keys; replicas sharing a limit use the same one,
            tests use a unique one.
        redis_retry_s: After a Redis failure, seconds of in-process limiting before Redis is
            tried again.

    Raises:
        ValueError: the limit string is not valid ``limits`` notation.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        limit: str | None = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        redis_retry_s: float = 30.0,
    ) -> None:
        self.item: RateLimitItem = parse(limit or settings.rate_limit)
        self.key_prefix = key_prefix
        self._memory = MemoryStorage()
        self._memory_limiter = MovingWindowRateLimiter(self._memory)
        url = redis_url(settings)
        self._redis: RedisStorage | None = None
        self._redis_limiter: MovingWindowRateLimiter | None = None
        if url is not None:
            self._redis = RedisStorage(
                _async_uri(url),
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=key_prefix,
                socket_connect_timeout=1.0,
                socket_timeout=2.0,
            )
            self._redis_limiter = MovingWindowRateLimiter(self._redis)
        self.breaker = RedisBreaker("rate_limiter", cooldown_s=redis_retry_s)

    @property
    def mode(self) -> str:
        """``redis``, ``memory`` (no Redis configured) or ``memory (redis unavailable)``."""
        if self._redis is None:
            return MODE_MEMORY
        return MODE_FALLBACK if self.breaker.down else MODE_REDIS

    def status(self) -> dict[str, Any]:
        """A snapshot for ``/readyz``: ``mode``, ``limit``, ``redis_configured``, ``error``."""
        return {
            "mode": self.mode,
            "limit": str(self.item),
            "redis_configured": self._redis is not None,
            "error": self.breaker.last_error,
        }

    async def probe(self) -> dict[str, Any]:
        """Ping Redis (when configured), update the mode, and return :meth:`status`."""
        if self._redis is not None:
            try:
                healthy = await self._redis.check()
            except Exception as exc:  # check() swallows most errors; be safe
                self.breaker.failed(exc)
                return self.status()
            if healthy:
                self.breaker.succeeded()
            else:
                self.breaker.failed("PING failed")
        return self.status()

    async def hit(self, key: str) -> RateLimitOutcome:
        """Count one request for ``key`` (an API key id) and decide.

        Never raises for storage trouble: a Redis failure switches to in-process counting.
        """
        limiter = self._active_limiter()
        if limiter is not self._memory_limiter:
            try:
                return await self._hit(limiter, key)
            except (StorageError, OSError, TimeoutError) as exc:
                self.breaker.failed(exc)
        return await self._hit(self._memory_limiter, key)

    async def reset(self) -> None:
        """Forget every count (in memory and, when reachable, this prefix in Redis)."""
        await self._memory.reset()
        if self._redis is not None:
            try:
                await self._redis.reset()
            except (StorageError, OSError, TimeoutError) as exc:
                self.breaker.failed(exc)

    async def close(self) -> None:
        """Close the Redis connections (at shutdown)."""
        client = getattr(getattr(self._redis, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    def _active_limiter(self) -> MovingWindowRateLimiter:
        if self._redis_limiter is None:
            return self._memory_limiter
        # while down, the breaker lets one hit try again every redis_retry_s; a success
        # restores shared limiting
        return self._redis_limiter if self.breaker.available() else self._memory_limiter

    async def _hit(self, limiter: MovingWindowRateLimiter, key: str) -> RateLimitOutcome:
        allowed = await limiter.hit(self.item, key)
        if limiter is self._redis_limiter:
            self.breaker.succeeded()
        if allowed:
            return RateLimitOutcome(True, str(self.item), -1, 0)
        stats = await limiter.get_window_stats(self.item, key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimitOutcome(False, str(self.item), stats.remaining, wait)
