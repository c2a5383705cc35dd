"""``/v1/playbooks`` and ``/v1/playbook-runs`` over HTTP: roles, runs, gates, SSE, webhooks."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from standardwebhooks import Webhook

from tests.integration.api.conftest import MakeClient, app_of, auth, new_key, sse_events

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


async def test_templates_runs_gates_cancel_rollback(make_client: MakeClient) -> None:
    client = await make_client()
    staff = auth(await new_key(client, "maria", "staff"))
    customer = auth(await new_key(client, "ada", "client"))

    denied = await client.get("/v1/playbooks", headers=customer)
    assert denied.status_code == 403 and denied.headers["content-type"] == PROBLEM
    listed = (await client.get("/v1/playbooks", headers=staff)).json()
    assert "agency-cycle" in {p["id"] for p in listed["items"]}
    missing = await client.get("/v1/playbooks/nope", headers=staff)
    assert missing.status_code == 404 and missing.json()["type"].endswith("unknown-playbook")
    shown = (await client.get("/v1/playbooks/agency-cycle", headers=staff)).json()
    assert shown["steps"][0]["package"] == "marketing_brief"
    valid = await client.post("/v1/playbooks/kb-article/validate", json={"level": "strict"},
                              headers=staff)  # fmt: skip
    assert valid.json()["ok"] is True
    paranoid = await client.post("/v1/playbooks/kb-article/validate",
                                 json={"level": "paranoid"}, headers=staff)  # fmt: skip
    assert paranoid.status_code == 403

    bad = await client.post("/v1/playbooks/lead-to-booking/runs", json={}, headers=staff)
    assert bad.status_code == 422 and "booking_id" in bad.json()["detail"]
    extra = await client.post("/v1/playbooks/lead-to-booking/runs", json={"nope": 1},
                              headers=staff)  # fmt: skip
    assert extra.status_code == 422

    run = await client.post("/v1/playbooks/agency-cycle/runs", json={"use_sample": True},
                            headers=staff)  # fmt: skip
    assert run.status_code == 201
    body = run.json()
    assert body["status"] == "waiting_approval"
    assert [g["step"] for g in body["waiting_on"]] == ["approve_plan"]
    rid = body["id"]
    gates = f"/v1/playbook-runs/{rid}/approvals"
    wrong = await client.post(gates, json={"step": "sign_contract", "approved": True},
                              headers=staff)  # fmt: skip
    assert wrong.status_code == 409 and wrong.json()["type"].endswith("playbook-run-state")
    ok = await client.post(gates, json={"step": "approve_plan", "approved": True}, headers=staff)
    after = ok.json()
    gate = next(s for s in after["steps"] if s["step_id"] == "approve_plan")
    assert gate["transition"]["actor"] == "human:maria"
    assert [g["step"] for g in after["waiting_on"]] == ["approve_content"]

    undo = await client.post(f"/v1/playbook-runs/{rid}/rollback",
                             json={"strategy": "immediate"}, headers=staff)  # fmt: skip
    report = undo.json()
    assert [u["step"] for u in report["undone"]] == ["campaign_content"]
    assert report["undone"][0]["actor"] == "human:maria" and report["stopped_at"] == "segments"
    status = (await client.get(f"/v1/playbook-runs/{rid}", headers=staff)).json()
    assert status["status"] == "cancelled"
    again = await client.post(f"/v1/playbook-runs/{rid}/cancel", headers=staff)
    assert again.status_code == 409
    hist = (await client.get("/v1/playbook-runs", headers=staff)).json()
    assert [r["id"] for r in hist["items"]] == [rid]
    stats = (await client.get("/v1/playbooks/analytics", headers=staff)).json()["items"]
    assert stats[0]["playbook_id"] == "agency-cycle" and stats[0]["cancelled"] == 1
    sugg = await client.post("/v1/playbooks/suggest", json={"context": "clients cannot pay"},
                             headers=staff)  # fmt: skip
    assert sugg.status_code == 200 and len(sugg.json()["items"]) == 3
    assert all(s["reasons"] for s in sugg.json()["items"])
    metrics = (await client.get("/metrics")).text
    assert 'grace_playbook_runs_total{outcome="started",playbook="agency-cycle"} 1.0' in metrics


async def test_background_run_streams_progress_and_signed_webhooks(
    make_client: MakeClient,
) -> None:
    client = await make_client()  # dev mode: keyless requests are the admin "dev"
    hook = await client.post("/v1/playbook-webhooks", json={
        "url": "https://hooks.example.test/pb", "events": ["playbook.started",
                                                           "playbook.completed"]})  # fmt: skip
    assert hook.status_code == 201
    secret = hook.json()["secret"]
    assert (await client.get("/v1/playbook-webhooks")).json()[0]["secret"] is None
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post("https://hooks.example.test/pb").mock(
            side_effect=[httpx.Response(503), httpx.Response(200), httpx.Response(200)]
        )
        started = await client.post("/v1/playbooks/lead-to-booking/runs",
                                    json={"use_sample": True, "wait": False})  # fmt: skip
        assert started.status_code == 202
        rid = started.json()["id"]
        stream = await client.get(f"/v1/playbook-runs/{rid}/events")
        events = sse_events(stream.text)
        assert events[-1] == ("done", json.dumps({"status": "completed"}))
        steps = [json.loads(d)["step"] for e, d in events if e == "playbook.step.completed"]
        assert steps == ["lead_note", "schedule", "task_plan", "quote", "summary", "done"]
        await app_of(client).state.playbooks.webhooks.drain()
    # the first delivery got a 503 and was retried with the same id; both events arrived signed
    assert route.call_count == 3
    seen: dict[str, list[str]] = {}
    for call in route.calls:
        req = call.request
        payload = Webhook(secret).verify(req.content.decode(), dict(req.headers))
        seen.setdefault(payload["type"], []).append(req.headers["webhook-id"])
    assert sorted(len(v) for v in seen.values()) == [1, 2]
    assert all(len(set(ids)) == 1 for ids in seen.values())
    assert set(seen) == {"playbook.started", "playbook.completed"}
