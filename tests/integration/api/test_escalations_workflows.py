"""Escalations resolved over HTTP resume their thread; workflow events go through the engine."""

from __future__ import annotations

import httpx
import pytest

from agents.testing import ScriptedChatModel, StubRouter
from graphs.workflows.engine import WorkflowEngine
from tests.integration.api.conftest import MakeClient, app_of, auth, new_key
from tests.integration.test_supervisor import booking_in, call

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


async def test_staff_resolve_a_level_4_approval_and_the_thread_resumes(
    make_client: MakeClient,
) -> None:
    model = ScriptedChatModel([])
    client = await make_client(model=model)
    iid = await booking_in(app_of(client).state.db, "quote_provided")
    model.script.extend(
        [
            call("request_approval", step="WF-WELL-BOOK:client_accepted_quote", instance_id=iid,
                 reason="client said yes on chat"),
            "Your quote is accepted; next comes payment.",
        ]
    )  # fmt: skip
    customer = await new_key(client, "ada", "client")
    staff = await new_key(client, "maria", "staff")

    turn = (await client.post("/v1/chat", json={"message": "Yes, I accept the quote for B-9"},
                              headers=auth(customer))).json()  # fmt: skip
    assert turn["level"] == 4 and turn["reply"] == "" and turn["escalation"]["kind"] == "approval"
    esc_id = turn["escalation"]["id"]

    listed = await client.get("/v1/escalations", params={"thread_id": turn["thread_id"]},
                              headers=auth(staff))  # fmt: skip
    assert [e["id"] for e in listed.json()["items"]] == [esc_id]
    # a client may neither list nor resolve
    r = await client.get("/v1/escalations", headers=auth(customer))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    r = await client.post(f"/v1/escalations/{esc_id}/resolve", json={"approve": True},
                          headers=auth(customer))  # fmt: skip
    assert r.status_code == 403

    r = await client.post(f"/v1/escalations/{esc_id}/resolve",
                          json={"approve": True, "note": "confirmed by phone"},
                          headers=auth(staff))  # fmt: skip
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["reply"] == "Your quote is accepted; next comes payment."
    assert [(a["event"], a["actor"]) for a in done["actions"]] == [
        ("client_accepted_quote", "human:maria")
    ]
    # the client sees the outcome in its thread
    thread = (await client.get(f"/v1/threads/{turn['thread_id']}", headers=auth(customer))).json()
    assert thread["messages"][-1]["content"] == done["reply"] and thread["escalation"] is None
    again = await client.post(f"/v1/escalations/{esc_id}/resolve", json={"approve": False},
                              headers=auth(staff))  # fmt: skip
    assert again.status_code == 409
    assert again.json()["type"].endswith("/escalation-already-resolved")
    missing = await client.post("/v1/escalations/nope/resolve", json={"approve": True},
                                headers=auth(staff))  # fmt: skip
    assert missing.status_code == 404 and missing.json()["type"].endswith("/unknown-escalation")


async def test_a_client_cannot_read_another_clients_thread(make_client: MakeClient) -> None:
    client = await make_client()
    ada, bob = await new_key(client, "ada", "client"), await new_key(client, "bob", "client")
    turn = (await client.post("/v1/chat", json={"message": "hello"}, headers=auth(ada))).json()
    r = await client.get(f"/v1/threads/{turn['thread_id']}", headers=auth(bob))
    assert r.status_code == 404
    r = await client.post("/v1/chat", json={"message": "hi", "thread_id": turn["thread_id"]},
                          headers=auth(bob))  # fmt: skip
    assert r.status_code == 404


async def test_workflow_reads_events_refusals_and_audit(client: httpx.AsyncClient) -> None:
    wfs = (await client.get("/v1/workflows")).json()["items"]
    assert len(wfs) == 14 and "WF-WELL-BOOK" in {w["id"] for w in wfs}
    detail = (await client.get("/v1/workflows/wf-well-book")).json()
    owners = {t["event"]: t["owner"] for t in detail["transitions"]}
    assert owners["client_accepted_quote"] == "human" and owners["consultation_scheduled"] == "nyra"

    r = await client.post(
        "/v1/workflows/WF-WELL-BOOK/instances",
        json={"subject": "booking:B-5"},
        headers={"Idempotency-Key": "s-1"},
    )
    assert r.status_code == 201, r.text
    inst = r.json()
    assert r.headers["location"] == f"/v1/instances/{inst['id']}" and inst["state"] == "inquiry"
    engine = WorkflowEngine(app_of(client).state.db)
    await engine.apply(inst["id"], "consultation_scheduled", "nyra")
    await engine.apply(inst["id"], "consultation_completed", "solari")

    # a persona-owned step is refused for a person, with a stable problem type
    events = f"/v1/instances/{inst['id']}/events"
    r = await client.post(events, json={"event": "consultation_scheduled"})
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "https://gracefields.dev/problems/invalid-transition"
    got = (await client.get(f"/v1/instances/{inst['id']}")).json()
    human_steps = [t["event"] for t in got["available"] if t["owner"] == "human"]
    assert "client_accepted_quote" in human_steps
    r = await client.post(events, json={"event": "client_accepted_quote", "expected_version": 1})
    assert r.status_code == 409 and r.json()["type"].endswith("/stale-version")

    body = {"event": "client_accepted_quote", "expected_version": got["version"],
            "payload": {"note": "by phone"}}  # fmt: skip
    r = await client.post(events, json=body, headers={"Idempotency-Key": "acc-1"})
    assert r.status_code == 200, r.text
    applied = r.json()
    assert (applied["actor"], applied["replayed"]) == ("human:dev", False)
    replay = await client.post(events, json=body, headers={"Idempotency-Key": "acc-1"})
    assert replay.json()["replayed"] is True and replay.json()["audit_id"] == applied["audit_id"]

    audit = (await client.get(f"/v1/instances/{inst['id']}/history")).json()["items"]
    assert audit[0]["event"] == "start" and audit[0]["actor"] == "human:dev"
    assert audit[-1]["event"] == "client_accepted_quote" and audit[-1]["payload"] == {
        "note": "by phone"
    }
    listed = (await client.get("/v1/workflows/WF-WELL-BOOK/instances",
                               params={"subject": "booking:B-5"})).json()  # fmt: skip
    assert [i["id"] for i in listed["items"]] == [inst["id"]]


async def test_persona_steps_are_not_owned_by_people_and_clients_cannot_fire(
    make_client: MakeClient,
) -> None:
    client = await make_client(router=StubRouter())
    iid = await booking_in(app_of(client).state.db, "inquiry")
    r = await client.post(f"/v1/instances/{iid}/events", json={"event": "consultation_scheduled"})
    assert r.status_code == 403 and r.json()["type"].endswith("/not-owner")
    assert r.json()["owner"] == "nyra"
    customer = await new_key(client, "ada", "client")
    r = await client.post(f"/v1/instances/{iid}/events", json={"event": "consultation_scheduled"},
                          headers=auth(customer))  # fmt: skip
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden")
    r = await client.get("/v1/instances/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["type"].endswith("/unknown-instance")
    r = await client.get("/v1/workflows/WF-NOPE")
    assert r.status_code == 404 and r.json()["type"].endswith("/unknown-workflow")
