"""The event bus on the real Redis (Streams) and in-process; publishing never raises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import structlog
from redis.asyncio import Redis

from graphs.core.events import Event, LocalEventBus, RedisEventBus
from tests.integration.redis_support import DOWN_URL, REDIS_URL, delete_prefix, new_prefix

pytestmark = pytest.mark.integration


@pytest.fixture
async def bus() -> AsyncIterator[RedisEventBus]:
    prefix = new_prefix()
    client = Redis.from_url(REDIS_URL)
    yield RedisEventBus(client, stream=f"{prefix}events", cap=100)
    await client.aclose()
    delete_prefix(prefix)


async def _take(agen: AsyncIterator[Event], n: int) -> list[Event]:
    return [await asyncio.wait_for(anext(agen), timeout=5) for _ in range(n)]


async def test_subscriber_receives_new_events_in_order(bus: RedisEventBus) -> None:
    await bus.publish(Event(type="job.progress", data={"n": 0}))  # before subscribing: not seen
    agen = bus.subscribe()
    first = asyncio.ensure_future(anext(agen))
    await asyncio.sleep(0.2)  # the subscriber pins "now" and blocks in XREAD
    ids = [await bus.publish(Event(type="job.progress", data={"n": n})) for n in (1, 2)]
    got = [await asyncio.wait_for(first, 5), *await _take(agen, 1)]
    assert [e.data["n"] for e in got] == [1, 2]
    assert [e.id for e in got] == ids
    await agen.aclose()  # type: ignore[attr-defined]


async def test_resume_from_last_event_id_with_type_filter(bus: RedisEventBus) -> None:
    ids = []
    kinds = ["job.progress", "escalation.created", "job.progress", "job.finished"]
    for n, kind in enumerate(kinds):
        ids.append(await bus.publish(Event(type=kind, data={"n": n})))  # type: ignore[arg-type]
    agen = bus.subscribe({"job.progress", "job.finished"}, last_id=ids[0])
    got = await _take(agen, 2)  # the client saw event 0; resumes after it, progress/finished only
    assert [(e.type, e.data["n"]) for e in got] == [("job.progress", 2), ("job.finished", 3)]
    assert got[0].id == ids[2]
    await agen.aclose()  # type: ignore[attr-defined]


async def test_unserializable_event_is_dropped_not_raised(bus: RedisEventBus) -> None:
    assert await bus.publish(Event(type="job.progress", data={"x": object()})) is None
    assert await bus.publish(Event(type="job.progress", data={"x": 1})) is not None


async def test_stream_is_capped(bus: RedisEventBus) -> None:
    for n in range(1000):
        await bus.publish(Event(type="job.progress", data={"n": n}))
    length = await bus.redis.xlen(bus.stream)
    assert 100 <= length < 1000  # MAXLEN ~ 100 trims whole nodes, never below the cap


async def test_publish_with_redis_down_drops_and_logs_once() -> None:
    client = Redis.from_url(DOWN_URL, socket_connect_timeout=1)
    down = RedisEventBus(client, stream="gft:never")
    with structlog.testing.capture_logs() as logs:
        assert await down.publish(Event(type="job.progress")) is None
        assert await down.publish(Event(type="job.finished")) is None
        down.breaker.cooldown_s = 0  # let the next publish try Redis again: still no raise
        down.breaker.failed(ConnectionError("again"))  # (already down: not logged again)
        assert await down.publish(Event(type="job.finished")) is None
    assert [(e["event"], e["user"]) for e in logs] == [("redis_down", "event_bus:gft:never")]
    await client.aclose()


async def test_local_bus_resumes_and_filters() -> None:
    local = LocalEventBus(cap=10)
    first = await local.publish(Event(type="transition.applied", data={"n": 0}))
    await local.publish(Event(type="transition.refused", data={"n": 1}))
    await local.publish(Event(type="transition.applied", data={"n": 2}))
    agen = local.subscribe({"transition.applied"}, last_id=first)
    assert [e.data["n"] for e in await _take(agen, 1)] == [2]
    later = asyncio.ensure_future(anext(agen))
    await asyncio.sleep(0.05)
    await local.publish(Event(type="transition.applied", data={"n": 3}))
    assert (await asyncio.wait_for(later, 5)).data["n"] == 3
