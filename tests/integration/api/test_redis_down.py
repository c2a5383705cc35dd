"""Redis configured but down: chat still works, limits fall back in-process, /readyz says so."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import MakeClient

pytestmark = pytest.mark.integration

DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1


async def test_chat_keeps_working_with_redis_down(make_client: MakeClient) -> None:
    client = await make_client(REDIS_URL=DOWN)
    first = await client.post("/v1/chat", json={"message": "Hello, are you open on Sunday?"})
    assert first.status_code == 200, first.text
    again = await client.post(
        "/v1/chat", json={"message": "thanks!", "thread_id": first.json()["thread_id"]}
    )
    assert again.status_code == 200 and again.json()["thread_id"] == first.json()["thread_id"]
    ready = await client.get("/readyz")
    checks = ready.json().get("checks") or ready.json()
    assert "redis unavailable" in str(checks["rate_limiter"]).lower(), checks
