"""``GET /v1/events`` on a real server: staff follow the Redis event stream and resume by id."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from redis.asyncio import Redis

from agents.testing import HashingEmbedder, StubRouter
from api.app import create_app
from graphs.core.database import Database
from graphs.core.events import Event, RedisEventBus
from graphs.runtime import GraceRuntime
from tests.integration.api.conftest import api_settings
from tests.integration.redis_support import REDIS_URL, delete_prefix, new_prefix

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(db: Database) -> AsyncIterator[tuple[str, RedisEventBus]]:
    """A running server (dev mode: keyless requests are an admin) and the bus it follows."""
    prefix = new_prefix()
    settings = api_settings(REDIS_URL=REDIS_URL, events_stream=f"{prefix}events")
    rt = await GraceRuntime.open(
        db=db, model=None, embedder=HashingEmbedder(256), router=StubRouter(default="solari")
    )
    app: FastAPI = create_app(settings, runtime=rt, dev=True)
    assert "/v1/events" in app.openapi()["paths"]
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    client = Redis.from_url(REDIS_URL)
    try:
        yield f"http://127.0.0.1:{port}", RedisEventBus(client, stream=settings.events_stream)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        await client.aclose()
        await rt.close()
        delete_prefix(prefix)


async def _read_events(lines: AsyncIterator[str], n: int) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async for line in lines:
        if not line:
            if "data" in current:
                out.append(current)
                if len(out) == n:
                    return out
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current[field] = value.lstrip(" ")
    return out


async def test_staff_follow_events_and_resume_after_last_event_id(
    served: tuple[str, RedisEventBus],
) -> None:
    base, bus = served
    seen = await bus.publish(Event(type="job.progress", data={"n": 1}))
    await bus.publish(Event(type="escalation.created", data={"n": 2}))
    missed = await bus.publish(Event(type="job.progress", data={"n": 3}))
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        async with http.stream(
            "GET", "/v1/events", params={"type": "job.progress"}, headers={"Last-Event-ID": seen}
        ) as response:  # type: ignore[arg-type]
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            first = await asyncio.wait_for(_read_events(lines, 1), 10)
            live = asyncio.ensure_future(_read_events(lines, 1))
            await asyncio.sleep(0.3)
            later = await bus.publish(Event(type="job.finished", data={"n": 4}))  # filtered
            newest = await bus.publish(Event(type="job.progress", data={"n": 5}))
            second = await asyncio.wait_for(live, 10)
        assert [(e["id"], e["event"]) for e in first] == [(missed, "job.progress")]
        assert json.loads(first[0]["data"])["data"] == {"n": 3}
        assert later and [e["id"] for e in second] == [newest]

        bad = await http.get("/v1/events", headers={"Last-Event-ID": "yesterday"})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
