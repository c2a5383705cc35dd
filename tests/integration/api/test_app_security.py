"""The security layer inside the real app (``api.app.create_app``): keys, roles, ownership,
limits, body size and a signed webhook, with ``--dev`` off."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import SecretStr

from api.auth.keys import ApiKeyStore
from api.auth.principal import Role
from api.ratelimit import RateLimiter
from api.webhooks.verify import sign
from graphs.core.database import Database
from graphs.workflows.engine import WorkflowEngine
from tests.integration.api.conftest import MakeClient, api_settings, app_of

pytestmark = pytest.mark.integration

SECRET = SecretStr("3e8a1f6c9b2d5e0a7c4f1b8e6d3a9c2f")
HOOK = "whsec_Ym9va2luZy1mb3JtLXNlY3JldC0xMjM0NTY3OA=="


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_keys_roles_and_ownership_on_the_real_routes(
    make_client: MakeClient, db: Database
) -> None:
    store = ApiKeyStore(db, api_settings(secret_key=SECRET))
    keys = {}
    for name, role in [("ann", Role.CLIENT), ("bob", Role.CLIENT), ("sam", Role.STAFF)]:
        keys[name] = (await store.create(name, role))[1]
    client = await make_client(
        dev=False, secret_key=SECRET, api_max_body_bytes=4096,
        webhook_secrets={"booking": [SecretStr(HOOK)]},
    )  # fmt: skip

    assert (await client.get("/v1/personas")).status_code == 401
    assert (await client.get("/v1/personas", headers=_auth(keys["ann"]))).status_code == 200

    chat = await client.post("/v1/chat", json={"message": "hello"}, headers=_auth(keys["ann"]))
    assert chat.status_code == 200, chat.text
    thread = chat.json()["thread_id"]
    assert (await client.get(f"/v1/threads/{thread}", headers=_auth(keys["ann"]))).is_success
    for res in (
        await client.get(f"/v1/threads/{thread}", headers=_auth(keys["bob"])),
        await client.post(
            "/v1/chat", json={"message": "hi", "thread_id": thread}, headers=_auth(keys["bob"])
        ),
    ):
        assert res.status_code == 404, res.text  # another client's thread does not exist
    assert (await client.get(f"/v1/threads/{thread}", headers=_auth(keys["sam"]))).is_success

    resolve = await client.post(
        "/v1/escalations/00000000-0000-0000-0000-000000000000/resolve",
        json={"approve": True}, headers=_auth(keys["ann"]),
    )  # fmt: skip
    assert resolve.status_code == 403 and resolve.json()["type"].endswith("/forbidden")

    too_big = await client.post(
        "/v1/chat", content=b"{" + b" " * 5000 + b"}", headers=_auth(keys["ann"])
    )
    assert too_big.status_code == 413
    assert too_big.json()["type"].endswith("/payload-too-large")

    inst = await WorkflowEngine(db).start("WF-AGT-COMM", "request:r-9")
    raw = json.dumps(
        {"type": "workflow.event", "instance_id": str(inst.id), "event": "request_received"}
    ).encode()
    ts = int(time.time())
    headers = {"webhook-id": "evt-1", "webhook-timestamp": str(ts),
               "webhook-signature": sign(HOOK, "evt-1", ts, raw)}  # fmt: skip
    hook = await client.post("/v1/webhooks/booking", content=raw, headers=headers)
    assert hook.status_code == 200, hook.text
    assert hook.json()["state"] == "pattern_verification"
    replay = await client.post("/v1/webhooks/booking", content=raw, headers=headers)
    assert replay.status_code == 409


async def test_rate_limit_in_the_app(make_client: MakeClient, db: Database) -> None:
    client = await make_client()  # dev mode: the keyless "dev" admin
    app = app_of(client)
    app.state.rate_limiter = RateLimiter(app.state.settings, limit="2/minute")
    codes = [(await client.get("/v1/agents")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = await client.get("/v1/agents")
    assert int(refused.headers["retry-after"]) >= 1
    ready = await client.get("/readyz")
    assert ready.json()["checks"]["rate_limiter"]["mode"] == "memory"
