"""Over HTTP: staff chat gets a playbook offer whose yes runs on the API's playbook runner."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from agents.testing import HashingEmbedder, StubRouter
from api.app import create_app
from graphs.core.database import Database
from graphs.playbooks.offers import PlaybookOffers
from graphs.runtime import GraceRuntime
from tests.integration.api.conftest import api_settings, auth, new_key

pytestmark = pytest.mark.integration
ASK = "Publish a knowledge article on the cancellation policy, document KB-31."


async def test_staff_yes_runs_on_the_api_runner_and_clients_get_no_offer(
    db: Database, local_embedder: Any
) -> None:
    offers = PlaybookOffers(local_embedder)
    rt = await GraceRuntime.open(db=db, model=None, embedder=HashingEmbedder(256),
                                 router=StubRouter(default="elan"), offers=offers)  # fmt: skip
    try:
        app = create_app(api_settings(), runtime=rt, dev=True, recover=False)
        async with LifespanManager(app):
            assert offers.runner is app.state.playbooks.runner  # metrics, webhooks, SSE
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                c.app = app  # type: ignore[attr-defined]
                client = auth(await new_key(c, "cora", "client"))
                mine = (await c.post("/v1/chat", json={"message": ASK}, headers=client)).json()
                assert "playbook" not in mine["reply"]
                first = (await c.post("/v1/chat", json={"message": ASK})).json()  # dev: admin
                assert first["reply"].endswith("Shall I start it?")
                answer = {"message": "yes", "thread_id": first["thread_id"]}
                yes = (await c.post("/v1/chat", json=answer)).json()
                await offers.drain()
                runs = (await c.get("/v1/playbook-runs")).json()["items"]
                assert [r["playbook_id"] for r in runs] == ["kb-article"]
                assert runs[0]["id"] in yes["reply"] and runs[0]["status"] == "waiting_approval"
    finally:
        await rt.close()
