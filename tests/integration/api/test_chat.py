"""``POST /v1/chat``: round trips, named agents, threads, SSE order, problem responses."""

from __future__ import annotations

import json

import httpx
import pytest

from agents.testing import ScriptedChatModel, StubRouter
from tests.integration.api.conftest import MakeClient, sse_events

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


async def test_chat_round_trip_and_thread_continuation(make_client: MakeClient) -> None:
    model = ScriptedChatModel(["Solari here: Tuesday works.", "Wednesday works too."])
    client = await make_client(model=model)
    r = await client.post("/v1/chat", json={"message": "Can I book a sound bath on Tuesday?"})
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["reply"] == "Solari here: Tuesday works."
    assert (first["persona"], first["level"], first["turn"]) == ("solari", 1, 1)
    assert first["agent"] == first["persona"]  # the older name, kept for existing clients
    assert first["thread_id"].startswith("t-") and first["escalation"] is None
    assert r.headers["x-request-id"]

    r = await client.post(
        "/v1/chat", json={"message": "And Wednesday?", "thread_id": first["thread_id"]}
    )
    assert r.json()["turn"] == 2 and r.json()["reply"] == "Wednesday works too."
    thread = (await client.get(f"/v1/threads/{first['thread_id']}")).json()
    assert [(m["role"], m["content"]) for m in thread["messages"]] == [
        ("user", "Can I book a sound bath on Tuesday?"),
        ("assistant", "Solari here: Tuesday works."),
        ("user", "And Wednesday?"),
        ("assistant", "Wednesday works too."),
    ]
    assert thread["current_persona"] == "solari" and thread["level"] == 1
    assert thread["current_agent"] == "solari"  # the older name


async def test_talking_to_a_named_agent_skips_routing(make_client: MakeClient) -> None:
    router = StubRouter(default="solari")
    client = await make_client(
        model=ScriptedChatModel(["Liora here!"], default="Grace here."), router=router
    )
    r = await client.post("/v1/chat", json={"message": "hello", "persona": "Liora"})
    assert r.json()["persona"] == "liora" and r.json()["reply"] == "Liora here!"
    # triage still runs (a risk reaches a person whoever was named), the named agent answers
    assert [text for text, _ in router.calls] == ["hello"]
    r = await client.post("/v1/chat", json={"message": "hello", "persona": "grace"})
    assert r.status_code == 200, r.text
    r = await client.post("/v1/chat", json={"message": "hello", "persona": "bob"})
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/unknown-persona") and "nyra" in r.json()["valid"]


async def test_the_older_field_and_endpoint_names_still_work(make_client: MakeClient) -> None:
    """``agent`` (request field) and ``GET /v1/agents`` were the names before ``persona``."""
    client = await make_client(
        model=ScriptedChatModel(["Liora here!"], default="Grace here."),
        router=StubRouter(default="solari"),
    )
    r = await client.post("/v1/chat", json={"message": "hello", "agent": "liora"})
    assert r.status_code == 200, r.text
    assert (r.json()["persona"], r.json()["agent"]) == ("liora", "liora")
    both = await client.post(
        "/v1/chat", json={"message": "hi", "agent": "liora", "persona": "nyra"}
    )
    assert both.status_code == 422  # one of the two names, not both
    new, old = await client.get("/v1/personas"), await client.get("/v1/agents")
    assert new.status_code == old.status_code == 200 and new.json() == old.json()
    assert [p["name"] for p in new.json()["items"]][:2] == ["grace", "nyra"]
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/v1/agents"]["get"].get("deprecated") is True


async def test_offline_turn_applies_a_workflow_step(make_client: MakeClient) -> None:
    client = await make_client(router=StubRouter(default="nyra"))
    r = await client.post(
        "/v1/chat", json={"message": "I'd like to book a consultation for a sound bath, B-1042"}
    )
    offer = r.json()
    assert offer["actions"] == [] and "Shall I go ahead?" in offer["reply"]
    r = await client.post(
        "/v1/chat", json={"message": "Yes, go ahead.", "thread_id": offer["thread_id"]}
    )
    body = r.json()
    assert [a["event"] for a in body["actions"]] == ["start", "consultation_scheduled"]
    assert body["actions"][1]["workflow_id"] == "WF-WELL-BOOK"


async def test_stream_sends_route_then_tokens_then_message_then_done(
    make_client: MakeClient,
) -> None:
    client = await make_client(model=ScriptedChatModel(["Happy to help with that booking."]))
    r = await client.post("/v1/chat?stream=true", json={"message": "Can I book Tuesday?"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    kinds = [e for e, _ in events]
    assert kinds[0] == "route" and kinds[-2:] == ["message", "done"]
    assert "token" in kinds and kinds.index("token") < kinds.index("message")
    tokens = "".join(json.loads(d)["text"] for e, d in events if e == "token")
    final = json.loads(events[-2][1])
    assert tokens == final["reply"] == "Happy to help with that booking."
    assert json.loads(events[0][1])["persona"] == "solari"
    assert r.headers["x-grace-thread"] == final["thread_id"]


async def test_stream_reports_actions_as_events(make_client: MakeClient) -> None:
    client = await make_client(router=StubRouter(default="nyra"))
    r = await client.post(
        "/v1/chat", json={"message": "I'd like to book a consultation for a sound bath, B-77"}
    )
    r = await client.post(
        "/v1/chat?stream=true", json={"message": "yes", "thread_id": r.json()["thread_id"]}
    )
    kinds = [e for e, _ in sse_events(r.text)]
    assert kinds.index("route") < kinds.index("action") < kinds.index("message")


async def test_validation_errors_name_the_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", json={"message": "x" * 8001, "thread_id": "bad id!"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == "https://gracefields.dev/problems/validation-error"
    assert {e["field"] for e in body["errors"]} == {"body.message", "body.thread_id"}
    r = await client.post("/v1/chat", json={"message": "hi", "colour": "red"})
    assert [e["field"] for e in r.json()["errors"]] == ["body.colour"]
    r = await client.post(
        "/v1/chat", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/nope")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/not-found") and r.json()["instance"] == "/v1/nope"
    r = await client.delete("/v1/chat")
    assert r.status_code == 405 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/method-not-allowed") and "POST" in r.headers["allow"]


async def test_a_waiting_thread_answers_409_until_resolved(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/chat", json={"message": "I want to talk to a real person"})
    turn = r.json()
    assert turn["level"] == 4 and turn["escalation"]["status"] == "pending"
    r = await client.post("/v1/chat", json={"message": "hello?", "thread_id": turn["thread_id"]})
    assert r.status_code == 409 and r.json()["type"].endswith("/thread-waiting-for-person")
    assert r.json()["escalation_id"] == turn["escalation"]["id"]


async def test_unknown_thread_is_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/threads/t-doesnotexist")
    assert r.status_code == 404 and r.json()["type"].endswith("/thread-not-found")
