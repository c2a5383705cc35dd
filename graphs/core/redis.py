"""The optional Redis connection (``REDIS_URL``): one client per process and URL.

Redis carries shared rate limits, embedding/retrieval caches, the event bus and the job queue
when configured. Without ``REDIS_URL`` every one of those falls back to its in-process form.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from redis import Redis as SyncRedis
    from redis.asyncio import Redis

    from graphs.core.settings import Settings

log = structlog.get_logger(__name__)

_clients: dict[str, tuple[Redis, asyncio.AbstractEventLoop | None]] = {}
_sync_clients: dict[str, SyncRedis] = {}


def redis_url(settings: Settings) -> str | None:
    """The configured Redis URL, or None when Redis is not configured."""
    return settings.redis_url.get_secret_value() if settings.redis_url else None


def get_redis(settings: Settings) -> Redis | None:
    """The process's asyncio Redis client for ``settings.redis_url`` (None when unset).

    The client connects lazily; callers handle ``redis.exceptions.ConnectionError`` when the
    server is down (the API degrades rather than failing).
    """
    url = redis_url(settings)
    if url is None:
        return None
    from redis.asyncio import Redis  # only when configured: the import costs ~0.1 s at start

    # asyncio connections belong to one event loop: one client per (URL, loop), so code run
    # under several loops (tests, CLI commands calling asyncio.run twice) never shares one.
    key = f"{url}#{_loop_id()}"
    for stale in [k for k, (_, loop) in _clients.items() if loop is not None and loop.is_closed()]:
        del _clients[stale]
    entry = _clients.get(key)
    if entry is None:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        entry = _clients[key] = (client, _running_loop())
    return entry[0]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop_id() -> int:
    return id(_running_loop())


async def close_redis() -> None:
    """Close every client this process opened (at shutdown)."""
    while _clients:
        _, (client, loop) = _clients.popitem()
        if loop is None or loop is _running_loop():
            await client.aclose()
    while _sync_clients:
        _, sync_client = _sync_clients.popitem()
        sync_client.close()


def get_sync_redis(settings: Settings) -> SyncRedis | None:
    """A blocking Redis client for code that runs in threads (embedders); None when unset.

    Thread-safe (its connection pool is); same timeouts as :func:`get_redis`.
    """
    url = redis_url(settings)
    if url is None:  # before importing redis (~0.4 s), which a process without it never needs
        return None
    from redis import Redis as SyncRedisClient

    client = _sync_clients.get(url)
    if client is None:
        client = SyncRedisClient.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        _sync_clients[url] = client
    return client


class RedisBreaker:
    """Remembers that Redis is down so callers bypass it instead of waiting on every request.

    After a failure, :meth:`available` is False for ``cooldown_s`` seconds; then one call
    tries again. The first failure after a success is logged once (``redis_down``, warning),
    the first success after failures once (``redis_up``) — never once per request.

    Args:
        name: What uses Redis (goes into the log lines).
        cooldown_s: Seconds to bypass Redis after a failure (30 s: short enough to pick a
            restarted Redis up quickly, long enough that a dead one costs one connect timeout
            per half minute, not one per request).
    """

    def __init__(self, name: str, cooldown_s: float = 30.0) -> None:
        self.name = name
        self.cooldown_s = cooldown_s
        self.down = False
        self._retry_at = 0.0
        self._last_error: str | None = None

    @property
    def last_error(self) -> str | None:
        """The latest error while Redis is down (``"ConnectionError: ..."``); None when up."""
        return self._last_error if self.down else None

    def available(self) -> bool:
        """Whether to try Redis now."""
        return not self.down or time.monotonic() >= self._retry_at

    def failed(self, exc: BaseException | str) -> None:
        """Record a Redis error (logged only on the transition to down).

        Args:
            exc: The exception raised, or a description when the failure was not one
                (a health check that answered False).
        """
        self._retry_at = time.monotonic() + self.cooldown_s
        self._last_error = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        if not self.down:
            self.down = True
            log.warning("redis_down", user=self.name, error=self._last_error)

    def succeeded(self) -> None:
        """Record a Redis success (logged only on the transition back to up)."""
        if self.down:
            self.down = False
            log.info("redis_up", user=self.name)
        self._last_error = None
