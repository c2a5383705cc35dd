"""The event bus: workflow transitions, escalations and job progress, for staff dashboards.

Two implementations of one :class:`EventBus` protocol:

* :class:`RedisEventBus` (``REDIS_URL`` set): one Redis Stream. ``publish`` is ``XADD`` with
  ``MAXLEN ~ cap`` (the newest ~10 000 events are kept, older ones trimmed in whole macro
  nodes); ``subscribe`` is a loop of ``XREAD BLOCK`` from ``$`` (only new events) or from a
  given stream id, so an SSE client that reconnects with ``Last-Event-ID`` receives exactly
  what it missed while the id is still within the cap. Every replica and worker sees every
  event.
* :class:`LocalEventBus` (no Redis): the same semantics inside one process, with an in-memory
  ring buffer of the same cap for resumption.

Event ids are stream ids (``"<ms>-<seq>"``), increasing, assigned at publish time.

Publishing never breaks the caller: a Redis error is logged once (structlog ``redis_down``,
``user=event_bus:<stream>``) and the event is dropped; for 30 s after a failure events are
dropped without trying Redis (:class:`graphs.core.redis.RedisBreaker`); the next success logs
``redis_up``. Events are notifications for
people watching, not the record — the audit tables in Postgres are the record.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import structlog
from pydantic import BaseModel, Field

from graphs.core.redis import RedisBreaker

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from graphs.core.settings import Settings

log = structlog.get_logger(__name__)

EventType = Literal[
    "transition.applied",
    "transition.refused",
    "escalation.created",
    "escalation.resolved",
    "job.progress",
    "job.finished",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

#: Events kept for resumption (Redis ``MAXLEN ~``; the local ring buffer's size).
DEFAULT_CAP = 10_000
#: Longest single ``XREAD BLOCK`` wait, ms (below the client's 5 s socket timeout).
BLOCK_MS = 2_000


class Event(BaseModel):
    """One notification.

    Attributes:
        id: Stream id ``"<ms>-<seq>"`` once published (the SSE ``id:``); empty before.
        type: What happened (see :data:`EventType`).
        ts: When it happened (UTC).
        data: JSON-ready details: for transitions ``instance_id``, ``workflow_id``, ``event``,
            ``from_state``/``to_state``, ``actor``; for escalations the escalation record; for
            jobs ``job_id`` and counters.
    """

    id: str = ""
    type: EventType
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = Field(default_factory=dict)


class EventBus(Protocol):
    """Publish events and follow them."""

    async def publish(self, event: Event) -> str | None:
        """Publish ``event``; returns its stream id, or None when it was dropped."""
        ...

    def subscribe(
        self, types: Collection[str] | None = None, *, last_id: str | None = None
    ) -> AsyncIterator[Event]:
        """Follow events of ``types`` (all when None) after ``last_id`` (new ones when None)."""
        ...


def _matches(event: Event, types: Collection[str] | None) -> bool:
    return types is None or event.type in types


def _parse_id(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class LocalEventBus:
    """In-process bus (no Redis): subscribers of this process only.

    Args:
        cap: Events kept for resumption by id.
    """

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self._events: deque[Event] = deque(maxlen=cap)
        self._cond = asyncio.Condition()
        self._last = (0, 0)

    def _next_id(self) -> str:
        ms = int(time.time() * 1000)
        last_ms, last_seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        return f"{self._last[0]}-{self._last[1]}"

    async def publish(self, event: Event) -> str | None:
        """Store and announce ``event``; never raises."""
        async with self._cond:
            event = event.model_copy(update={"id": self._next_id()})
            self._events.append(event)
            self._cond.notify_all()
        return event.id

    async def subscribe(
        self, types: Collection[str] | None = None, *, last_id: str | None = None
    ) -> AsyncIterator[Event]:
        """Yield events after ``last_id`` (buffered ones first), then new ones, forever."""
        cursor = _parse_id(last_id) if last_id else self._last
        while True:
            async with self._cond:
                fresh = [e for e in self._events if _parse_id(e.id) > cursor]
                if not fresh:
                    await self._cond.wait()
                    continue
            for event in fresh:
                cursor = _parse_id(event.id)
                if _matches(event, types):
                    yield event


class RedisEventBus:
    """Event bus on one Redis Stream, shared by every replica and worker.

    Args:
        redis: An asyncio Redis client.
        stream: Stream key (default ``grace:events``).
        cap: Approximate number of events kept (``XADD … MAXLEN ~ cap``).
    """

    def __init__(self, redis: Redis, stream: str = "grace:events", cap: int = DEFAULT_CAP) -> None:
        self.redis = redis
        self.stream = stream
        self.cap = cap
        self.breaker = RedisBreaker(f"event_bus:{stream}")

    async def publish(self, event: Event) -> str | None:
        """``XADD`` the event; on a Redis error drop it and return None (never raises).

        After a failure, events are dropped without contacting Redis for the breaker's
        cool-down (30 s), so a dead Redis costs a turn nothing; the outage is logged once
        (``redis_down``) and the recovery once (``redis_up``).
        """
        from redis.exceptions import RedisError

        if not self.breaker.available():  # Redis failed moments ago: drop without waiting
            return None
        try:
            payload = event.model_dump_json(exclude={"id"})
        except (TypeError, ValueError) as exc:  # a value JSON cannot carry: drop, never raise
            log.warning("event_dropped", type=event.type, error=str(exc))
            return None
        fields = {"type": event.type, "json": payload}
        try:
            raw = await self.redis.xadd(
                self.stream,
                fields,  # type: ignore[arg-type]
                maxlen=self.cap,
                approximate=True,
            )
        except (RedisError, OSError) as exc:
            self.breaker.failed(exc)
            return None
        self.breaker.succeeded()
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def subscribe(
        self, types: Collection[str] | None = None, *, last_id: str | None = None
    ) -> AsyncIterator[Event]:
        """Yield events after ``last_id`` (``$``: only new ones), blocking between them.

        Raises:
            redis.exceptions.RedisError: Redis failed while following (the SSE client
                reconnects with its ``Last-Event-ID``).
        """
        cursor = last_id or "$"
        if cursor == "$":  # pin "now" so events published between two XREADs are not lost
            newest = await self.redis.xrevrange(self.stream, count=1)
            cursor = _decode(newest[0][0]) if newest else "0-0"
        while True:
            reply = await self.redis.xread({self.stream: cursor}, block=BLOCK_MS, count=100)
            for _stream, entries in reply or []:
                for raw_id, fields in entries:
                    cursor = _decode(raw_id)
                    event = _event_from_fields(cursor, fields)
                    if event is not None and _matches(event, types):
                        yield event


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _event_from_fields(stream_id: str, fields: dict[Any, Any]) -> Event | None:
    raw = fields.get(b"json", fields.get("json"))
    if raw is None:
        return None
    try:
        return Event.model_validate_json(raw).model_copy(update={"id": stream_id})
    except ValueError:
        log.warning("event_bus_bad_entry", id=stream_id)
        return None


_local: tuple[LocalEventBus, asyncio.AbstractEventLoop] | None = None
_bus: RedisEventBus | None = None


def get_event_bus(settings: Settings) -> EventBus:
    """The process's bus: on Redis when ``settings.redis_url`` is set, in-process otherwise.

    Call it from a coroutine (the in-process bus belongs to the running event loop). The
    Redis stream is ``settings.events_stream``.
    """
    global _local, _bus
    from graphs.core.redis import get_redis

    redis = get_redis(settings)
    if redis is None:
        loop = asyncio.get_running_loop()
        if _local is None or _local[1] is not loop:  # asyncio primitives belong to one loop
            _local = (LocalEventBus(), loop)
        return _local[0]
    bus = _bus
    if bus is None or bus.redis is not redis or bus.stream != settings.events_stream:
        bus = _bus = RedisEventBus(redis, stream=settings.events_stream)
    return bus


def escalation_resolved(escalation: dict[str, Any]) -> Event:
    """The ``escalation.resolved`` event for a decided escalation (its ``to_dict()``)."""
    return Event(type="escalation.resolved", data=dict(escalation))
