"""The app's shutdown closes the outbound playbook webhook sender within its time limit."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx
from asgi_lifespan import LifespanManager

import api.app as app_module
from agents.testing import HashingEmbedder, StubRouter
from api.app import create_app
from graphs.core.database import Database
from graphs.runtime import GraceRuntime
from tests.integration.api.conftest import api_settings

pytestmark = pytest.mark.integration


async def _hang(request: httpx.Request) -> httpx.Response:
    await asyncio.sleep(30)
    return httpx.Response(200)


async def test_shutdown_delivers_what_it_can_then_closes_the_sender(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "WEBHOOK_CLOSE_S", 0.5)
    rt = await GraceRuntime.open(db=db, model=None, embedder=HashingEmbedder(256),
                                 router=StubRouter(default="solari"))  # fmt: skip
    try:
        app = create_app(api_settings(), runtime=rt, dev=True, recover=False)
        with respx.mock(assert_all_called=False) as mock:
            fast = mock.post("https://fast.example.test/pb").mock(httpx.Response(200))
            mock.post("https://slow.example.test/pb").mock(side_effect=_hang)
            async with LifespanManager(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    for host in ("fast", "slow"):
                        added = await c.post("/v1/playbook-webhooks", json={
                            "url": f"https://{host}.example.test/pb",
                            "events": ["playbook.started"]})  # fmt: skip
                        assert added.status_code == 201
                sender = app.state.playbooks.webhooks
                await sender({"type": "playbook.started", "run_id": "r-1", "playbook": "x"})
                assert sender.pending == 2
                began = time.perf_counter()
            took = time.perf_counter() - began
        assert sender.closed and sender.pending == 0
        assert fast.call_count == 1  # the quick delivery got its chance
        assert 0.4 < took < 3.0  # waited for the slow one, but only up to the limit
    finally:
        await rt.close()
