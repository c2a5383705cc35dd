"""``GraceRuntime.stream``: events in order, the same result as ``ask``, and the thread view."""

from __future__ import annotations

import pytest

from agents.testing import ScriptedChatModel, StubRouter
from graphs.core.database import Database
from graphs.runtime import ThreadBusyError
from graphs.turn_events import TurnEvent
from graphs.workflows.engine import WorkflowEngine
from tests.integration.test_supervisor import booking_in, call, runtime

pytestmark = pytest.mark.integration


async def collect(rt: object, message: str, **kw: object) -> list[TurnEvent]:
    return [e async for e in rt.stream(message, **kw)]  # type: ignore[attr-defined]


async def test_offline_stream_order_and_final_matches_the_turn(db: Database) -> None:
    rt = await runtime(db, router=StubRouter(default="nyra"))
    offer = await collect(rt, "Hi! I'd like to book a consultation for a sound bath, ref B-77")
    assert not [e for e in offer if e.type == "action"]  # proposed first, done on the yes
    thread = offer[-1].data["thread_id"]
    events = await collect(rt, "yes please", thread_id=thread)
    types = [e.type for e in events]
    assert types[0] == "route" and types[-1] == "final"
    assert events[0].data["persona"] == "nyra" and events[0].data["level"] == 1
    actions = [e.data["event"] for e in events if e.type == "action"]
    assert actions == ["start", "consultation_scheduled"]
    # the reply text arrives after the actions it reports, before the final event
    first_token = types.index("token")
    assert first_token > max(i for i, t in enumerate(types) if t == "action")
    final = events[-1].data
    text = "".join(e.data["text"] for e in events if e.type == "token")
    assert final["reply"] == text and "consultation scheduled" in text
    assert [a["event"] for a in final["actions"]] == actions
    (inst,) = await WorkflowEngine(db).find(subject="booking:B-77")
    assert inst.state == "consultation"  # streamed once, applied once
    assert len(await WorkflowEngine(db).history(inst.id)) == 2


async def test_model_tokens_stream_as_they_come(db: Database) -> None:
    model = ScriptedChatModel(["Your Tuesday session is booked for two people."])
    rt = await runtime(db, model, StubRouter(default="solari"))
    events = await collect(rt, "book me tuesday")
    tokens = [e.data for e in events if e.type == "token"]
    assert len(tokens) > 3 and all(t["persona"] == "solari" for t in tokens)
    assert "".join(t["text"] for t in tokens) == "Your Tuesday session is booked for two people."
    assert model.calls[0].streamed
    assert events[-1].data["reply"] == "Your Tuesday session is booked for two people."


async def test_refusal_event_for_a_step_the_persona_does_not_own(db: Database) -> None:
    iid = await booking_in(db, "consultation")
    model = ScriptedChatModel(
        [call("well_book__consultation_completed", instance_id=iid), "Sorry."]
    )
    rt = await runtime(db, model, StubRouter(default="nyra"))
    events = await collect(rt, "Mark my consultation as done please")
    refusals = [e.data for e in events if e.type == "refusal"]
    assert [r["code"] for r in refusals] == ["not-your-tool"]
    assert not [e for e in events if e.type == "action"]


async def test_level_4_stream_ends_with_the_escalation_then_the_thread_view(db: Database) -> None:
    rt = await runtime(db, ScriptedChatModel([]), StubRouter(default="solari"))
    events = await collect(rt, "I want to speak to a human being, now")
    assert [e.type for e in events][-2:] == ["escalation", "final"]
    final = events[-1].data
    assert final["level"] == 4 and final["reply"] == ""
    assert final["escalation"]["id"] == events[-2].data["id"]
    view = await rt.thread(final["thread_id"])
    assert view is not None and view.level == 4 and view.escalation is not None
    assert view.messages == [
        {"role": "user", "content": "I want to speak to a human being, now", "persona": None}
    ]
    with pytest.raises(ThreadBusyError):
        await collect(rt, "hello?", thread_id=final["thread_id"])
    done = await rt.resolve(view.escalation.id, approve=True, note="Maria here.", by="maria")
    view = await rt.thread(done.thread_id)
    assert view is not None and view.escalation is None
    assert view.messages[-1]["role"] == "assistant" and view.messages[-1]["persona"] == "grace"
    assert await rt.thread("t-never-seen") is None


async def test_turns_publish_transitions_and_escalations_on_the_bus(db: Database) -> None:
    import asyncio

    from graphs.core.events import LocalEventBus

    rt = await runtime(db, router=StubRouter(default="nyra"))
    rt.bus = bus = LocalEventBus()
    seen: list[str] = []

    async def follow() -> None:
        async for event in bus.subscribe():
            seen.append(f"{event.type}:{event.data.get('event') or event.data.get('status')}")

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    offer = await rt.ask("Hi! I'd like to book a consultation for a sound bath, ref B-88")
    await rt.ask("yes please", thread_id=offer.thread_id)
    turn = await rt.ask("I want to talk to a real person please")
    assert turn.escalation is not None
    await rt.resolve(turn.escalation.id, approve=True, note="ok", by="maria")
    await asyncio.sleep(0.05)
    task.cancel()
    assert seen == [
        "transition.applied:start",
        "transition.applied:consultation_scheduled",
        "escalation.created:pending",
        "escalation.resolved:approved",
    ]
