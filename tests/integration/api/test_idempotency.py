"""``Idempotency-Key`` on ``/v1/chat`` and ``/v1/chat/completions``; lost turns finished."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agents.testing import ScriptedChatModel
from api.idempotency import IdempotencyStore, fingerprint
from graphs.inbox import InboxMessage
from graphs.runtime import GraceRuntime
from graphs.turn_recovery import TurnSweeper
from tests.integration.api.conftest import MakeClient, app_of, auth, new_key, sse_events

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"


def _users(thread: dict[str, Any]) -> list[str]:
    return [m["content"] for m in thread["messages"] if m["role"] == "user"]


async def test_a_retry_with_the_same_key_returns_the_first_turn_and_stores_nothing(
    make_client: MakeClient,
) -> None:
    client = await make_client(model=ScriptedChatModel(["First answer.", "Second answer."]))
    body = {"message": "Is the gallery open on Sunday?"}
    first = await client.post("/v1/chat", json=body, headers={"Idempotency-Key": '"k-1"'})
    assert first.status_code == 200, first.text
    again = await client.post("/v1/chat", json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json() and again.json()["reply"] == "First answer."
    thread = (await client.get(f"/v1/threads/{first.json()['thread_id']}")).json()
    assert _users(thread) == ["Is the gallery open on Sunday?"]
    # as a stream, the retry sends the stored turn: message, then done
    streamed = await client.post(
        "/v1/chat?stream=true", json=body, headers={"Idempotency-Key": "k-1"}
    )
    events = sse_events(streamed.text)
    assert [e for e, _ in events] == ["message", "done"]
    assert json.loads(events[0][1])["reply"] == "First answer."
    # a new key is a new turn (of a new thread, as the body names none)
    other = await client.post("/v1/chat", json=body, headers={"Idempotency-Key": "k-2"})
    assert other.json()["reply"] == "Second answer."


async def test_same_key_other_body_is_422_and_bad_keys_are_400(make_client: MakeClient) -> None:
    client = await make_client(model=ScriptedChatModel(default="Hello."))
    ok = await client.post("/v1/chat", json={"message": "hi"}, headers={"Idempotency-Key": "k"})
    assert ok.status_code == 200
    r = await client.post("/v1/chat", json={"message": "bye"}, headers={"Idempotency-Key": "k"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/idempotency-key-reused")
    for bad in ["", '""', "x" * 256, "caf\u00e9"]:
        r = await client.post(
            "/v1/chat", json={"message": "hi"}, headers=[(b"Idempotency-Key", bad.encode())]
        )
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["type"].endswith("/invalid-idempotency-key")


async def test_keys_are_scoped_to_the_api_key(make_client: MakeClient) -> None:
    client = await make_client(
        model=ScriptedChatModel(default="Hello."), dev=False, secret_key="k" * 16 + "s" * 24
    )
    ada, bob = await new_key(client, "ada", "client"), await new_key(client, "bob", "client")
    body = {"message": "hi"}
    a = await client.post("/v1/chat", json=body, headers={**auth(ada), "Idempotency-Key": "k"})
    b = await client.post("/v1/chat", json=body, headers={**auth(bob), "Idempotency-Key": "k"})
    assert a.status_code == b.status_code == 200
    assert a.json()["thread_id"] != b.json()["thread_id"]
    assert "idempotent-replayed" not in b.headers


async def test_completions_retry_returns_the_same_completion(make_client: MakeClient) -> None:
    client = await make_client(model=ScriptedChatModel(["Solari here.", "Again."]))
    body = {"model": "grace", "messages": [{"role": "user", "content": "Book a sound bath"}]}
    first = await client.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": "c-1"})
    assert first.status_code == 200, first.text
    again = await client.post("/v1/chat/completions", json=body, headers={"Idempotency-Key": "c-1"})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    one, two = first.json(), again.json()
    assert two["id"] == one["id"] and two["choices"] == one["choices"]
    assert two["choices"][0]["message"]["content"] == "Solari here."
    thread = one["grace"]["thread_id"]
    assert again.headers["x-grace-thread"] == thread
    assert _users((await client.get(f"/v1/threads/{thread}")).json()) == ["Book a sound bath"]
    streamed = await client.post(
        "/v1/chat/completions", json={**body, "stream": True}, headers={"Idempotency-Key": "c-1"}
    )
    chunks = [json.loads(d) for _, d in sse_events(streamed.text) if d != "[DONE]"]
    assert {c["id"] for c in chunks} == {one["id"]}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "Solari here."
    other = {**body, "messages": [{"role": "user", "content": "Something else"}]}
    r = await client.post("/v1/chat/completions", json=other, headers={"Idempotency-Key": "c-1"})
    assert r.status_code == 422 and r.json()["type"].endswith("/idempotency-key-reused")


async def _crashed_turn(rt: GraceRuntime, thread_id: str, key: str, text: str) -> str:
    """What a server killed mid-turn leaves: the key, and the message leased to a dead owner."""
    mid = f"m-{thread_id}"
    await IdempotencyStore(rt.db).begin(
        "dev", key, fingerprint("chat", {"message": text, "thread_id": None, "persona": None}),
        thread_id, mid,
    )  # fmt: skip
    await rt.inbox.swap(thread_id, InboxMessage(mid, text, None, "client"))
    async with rt.db.connection() as c:  # the dead replica's lease has lapsed
        await c.execute(
            "UPDATE thread_inbox SET lease_owner = 'gone-host:1:dead',"
            " lease_until = now() - interval '1 second' WHERE thread_id = %s",
            (thread_id,),
        )
    return mid


async def test_a_retry_after_a_crash_gets_the_recovered_turn_once(
    make_client: MakeClient,
) -> None:
    client = await make_client(model=ScriptedChatModel(["Recovered answer."], default="Extra."))
    rt = app_of(client).state.runtime
    await _crashed_turn(rt, "t-lost", "k-lost", "Are you open late?")
    body = {"message": "Are you open late?", "thread_id": None, "persona": None}
    # the key was stored with the thread the first request picked; the retry omits it too
    r = await client.post(
        "/v1/chat", json={"message": "Are you open late?"}, headers={"Idempotency-Key": "k-lost"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["thread_id"] == "t-lost" and r.json()["reply"] == "Recovered answer."
    assert _users((await client.get("/v1/threads/t-lost")).json()) == [body["message"]]
    again = await client.post(
        "/v1/chat", json={"message": "Are you open late?"}, headers={"Idempotency-Key": "k-lost"}
    )
    assert again.json()["reply"] == "Recovered answer."
    assert _users((await client.get("/v1/threads/t-lost")).json()) == [body["message"]]


async def test_the_sweep_finishes_lost_turns_without_the_client(make_client: MakeClient) -> None:
    client = await make_client(model=ScriptedChatModel(default="Swept answer."))
    rt = app_of(client).state.runtime
    mid = await _crashed_turn(rt, "t-swept", "k-swept", "Do you sell gift cards?")
    sweeper = TurnSweeper(rt)
    finished = await sweeper.sweep_once()
    # the app's own background sweep may have taken it first; either way it ran once
    assert finished in (["t-swept"], [])
    view = await rt.thread("t-swept")
    assert view is not None and _users(view.to_dict()) == ["Do you sell gift cards?"]
    assert view.messages[-1]["content"] == "Swept answer."
    assert await rt.inbox.open_turn("t-swept") is None  # settled
    record = await IdempotencyStore(rt.db).get("dev", "k-swept")
    assert record is not None and record.message_id == mid
    assert record.response is not None and record.response["reply"] == "Swept answer."
    assert await sweeper.sweep_once() == []


async def test_a_live_turn_elsewhere_is_not_taken_over(make_client: MakeClient) -> None:
    client = await make_client(model=ScriptedChatModel(default="Hello."))
    rt = app_of(client).state.runtime
    await rt.inbox.swap("t-live", InboxMessage("m-live", "hello", None, "client"))
    async with rt.db.connection() as c:  # another replica holds the lease and renews it
        await c.execute(
            "UPDATE thread_inbox SET lease_owner = 'other-host:1:alive' WHERE thread_id = %s",
            ("t-live",),
        )
    assert await TurnSweeper(rt).sweep_once() == []
    r = await client.post("/v1/chat", json={"message": "still there?", "thread_id": "t-live"})
    assert r.status_code == 409 and r.json()["type"].endswith("/thread-busy")
    assert r.headers["retry-after"] == "1"


async def test_a_key_whose_message_was_refused_is_not_kept(make_client: MakeClient) -> None:
    client = await make_client()
    turn = await client.post("/v1/chat", json={"message": "I want to talk to a real person"})
    tid = turn.json()["thread_id"]
    body = {"message": "hello?", "thread_id": tid}
    for _ in range(2):  # the retry is refused at once too, not held as "in progress"
        r = await client.post("/v1/chat", json=body, headers={"Idempotency-Key": "k-refused"})
        assert r.status_code == 409 and r.json()["type"].endswith("/thread-waiting-for-person")
    assert await IdempotencyStore(app_of(client).state.db).get("dev", "k-refused") is None
    esc = turn.json()["escalation"]["id"]
    resolved = await client.post(f"/v1/escalations/{esc}/resolve", json={"approve": True})
    assert resolved.status_code == 200, resolved.text
    r = await client.post("/v1/chat", json=body, headers={"Idempotency-Key": "k-refused"})
    assert r.status_code == 200 and "idempotent-replayed" not in r.headers
    assert _users((await client.get(f"/v1/threads/{tid}")).json()).count("hello?") == 1


async def test_the_app_stops_at_once_after_a_quick_request(client: httpx.AsyncClient) -> None:
    """Shutdown cancels the recovery loops mid-query; they must stop, not log and go on.

    (The fixture's teardown fails with a lifespan shutdown timeout when they do not.)
    """
    for _ in range(3):
        r = await client.post("/v1/chat", json={"message": ""})
        assert r.status_code == 422
