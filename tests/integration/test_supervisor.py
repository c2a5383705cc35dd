"""The supervisor graph end to end: routing, ownership, escalation levels 1-4, handoffs, budget.

Real PostgreSQL (engine, checkpointer, escalations); a stub router so each test picks the
persona it exercises; a scripted chat model (or none: the offline mode).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from agents.testing import Decision, HashingEmbedder, ScriptedChatModel, StubRouter
from graphs.core.database import Database
from graphs.persona import BUDGET_MESSAGE
from graphs.runtime import GraceRuntime, ThreadBusyError
from graphs.workflows.engine import WorkflowEngine

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def _close_runtimes(db: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Close every runtime a test opens before its database goes (no leaked pools)."""
    opened: list[GraceRuntime] = []
    real_open = GraceRuntime.open

    async def recording_open(*args: Any, **kwargs: Any) -> GraceRuntime:
        rt = await real_open(*args, **kwargs)
        opened.append(rt)
        return rt

    monkeypatch.setattr(GraceRuntime, "open", recording_open)
    yield
    for rt in opened:
        await rt.close()


def call(name: str, **args: Any) -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": f"c-{name}"}])


async def runtime(db: Database, model: Any = None, router: Any = None) -> GraceRuntime:
    return await GraceRuntime.open(
        db=db,
        model=model,
        embedder=HashingEmbedder(256),
        router=router or StubRouter(),
    )


async def booking_in(db: Database, state: str) -> str:
    engine = WorkflowEngine(db)
    inst = await engine.start("WF-WELL-BOOK", "booking:B-9")
    steps = [("consultation_scheduled", "nyra"), ("consultation_completed", "solari")]
    for event, actor in steps:
        if (await engine.get(inst.id)).state == state:
            break
        await engine.apply(inst.id, event, actor)
    return str(inst.id)


async def test_offline_persona_proposes_then_acts_on_yes(db: Database) -> None:
    rt = await runtime(db, router=StubRouter(default="nyra"))
    turn = await rt.ask("Hi! I'd like to book a consultation for a sound bath, ref B-1042")
    assert turn.persona == "nyra" and turn.level == 1
    assert turn.actions == []  # proposed, not done
    assert "Shall I go ahead?" in turn.reply and "consultation scheduled" in turn.reply
    engine = WorkflowEngine(db)
    assert await engine.find(subject="booking:B-1042") == []
    state = await rt.graph.aget_state({"configurable": {"thread_id": turn.thread_id}})
    pending = state.values["pending"]
    assert pending["kind"] == "action" and pending["persona"] == "nyra" and pending["turn"] == 1
    assert pending["idempotency_keys"][0] == f"{turn.thread_id}:1:start:well_book"

    yes = await rt.ask("yes please", thread_id=turn.thread_id)
    assert yes.persona == "nyra"
    assert [a["event"] for a in yes.actions] == ["start", "consultation_scheduled"]
    assert "offline mode" in yes.reply and "consultation scheduled" in yes.reply
    (inst,) = await engine.find(subject="booking:B-1042")
    assert inst.state == "consultation"
    hist = await engine.history(inst.id)
    assert [h.actor for h in hist] == ["nyra", "nyra"]
    # the offer was used up: another yes does nothing more
    again = await rt.ask("yes please", thread_id=turn.thread_id)
    assert again.actions == [] and len(await engine.history(inst.id)) == 2


async def test_no_to_a_proposal_applies_nothing(db: Database) -> None:
    rt = await runtime(db, router=StubRouter(default="nyra"))
    turn = await rt.ask("I'd like to book a consultation for a sound bath, ref B-77")
    no = await rt.ask("no thanks", thread_id=turn.thread_id)
    assert no.actions == [] and no.persona == "grace" and "left it" in no.reply
    assert await WorkflowEngine(db).find(subject="booking:B-77") == []


async def test_a_question_fires_nothing_even_with_an_obedient_model(db: Database) -> None:
    iid = await booking_in(db, "consultation")
    model = ScriptedChatModel(
        [call("well_book__consultation_completed", instance_id=iid), "It can be marked done."]
    )
    rt = await runtime(db, model, StubRouter(default="solari", act="question"))
    turn = await rt.ask("Is my consultation on B-9 done yet?", audience="staff")
    assert turn.actions == [] and [r["code"] for r in turn.refusals] == ["not-requested"]
    assert (await WorkflowEngine(db).get(iid)).state == "consultation"
    # what the model wanted to do is now an offer; a yes does exactly that
    rt.deps.router = StubRouter(default="solari")
    model.script.append("Done.")
    yes = await rt.ask("yes, go ahead", thread_id=turn.thread_id, audience="staff")
    assert [a["event"] for a in yes.actions] == ["consultation_completed"]
    assert (await WorkflowEngine(db).get(iid)).state == "quote_provided"


async def test_accepting_a_hand_over_offer_reaches_a_person(db: Database) -> None:
    rt = await GraceRuntime.open(
        db=db, model=None, embedder=HashingEmbedder(256), router=StubRouter("sage"), knowledge=False
    )
    turn = await rt.ask("What is the meaning of the blue room?")
    assert "hand this over to a member of our team?" in turn.reply
    yes = await rt.ask("Yes, please hand this over to a person.", thread_id=turn.thread_id)
    assert yes.level == 4 and yes.escalation is not None and yes.escalation.kind == "handoff"


async def test_thanks_thats_all_closes_without_routing(db: Database) -> None:
    model = ScriptedChatModel([])  # no persona may run
    router = StubRouter("solari")
    rt = await runtime(db, model, router)
    turn = await rt.ask("thanks, that's all")
    assert turn.persona == "grace" and "welcome" in turn.reply and model.calls == []


async def test_model_cannot_use_a_transition_it_does_not_own(db: Database) -> None:
    iid = await booking_in(db, "consultation")
    # Nyra's model asks for Solari's step, by name, on an existing case.
    model = ScriptedChatModel(
        [call("well_book__consultation_completed", instance_id=iid), "Sorry, that is Solari's job."]
    )
    rt = await runtime(db, model, StubRouter(default="nyra"))
    turn = await rt.ask("Mark my consultation as done please")
    assert turn.actions == []
    assert turn.refusals and turn.refusals[0]["code"] == "not-your-tool"
    offered = set(model.calls[0].tools)
    assert "well_book__consultation_scheduled" in offered  # Nyra's own step
    assert not any(name.endswith("__consultation_completed") for name in offered)
    assert (await WorkflowEngine(db).get(iid)).state == "consultation"


async def test_level_4_inside_a_persona_waits_for_a_person_then_resumes(db: Database) -> None:
    iid = await booking_in(db, "quote_provided")
    model = ScriptedChatModel(
        [
            call(
                "request_approval",
                step="WF-WELL-BOOK:client_accepted_quote",
                instance_id=iid,
                reason="client said yes on chat",
            ),
            "Your quote is accepted; next comes payment.",
        ]
    )
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("Yes, I accept the quote for booking B-9")
    assert turn.level == 4 and turn.reply == "" and turn.escalation is not None
    esc = turn.escalation
    assert (esc.kind, esc.event, esc.persona, esc.status) == (
        "approval",
        "client_accepted_quote",
        "solari",
        "pending",
    )
    assert [e.id for e in await rt.escalations.list()] == [esc.id]
    assert (await WorkflowEngine(db).get(iid)).state == "quote_provided"
    with pytest.raises(ThreadBusyError):
        await rt.ask("hello?", thread_id=turn.thread_id)

    done = await rt.resolve(esc.id, approve=True, note="confirmed by phone", by="maria")
    assert done.escalation is None and done.level == 4
    assert done.reply == "Your quote is accepted; next comes payment."
    assert [(a["event"], a["actor"]) for a in done.actions] == [
        ("client_accepted_quote", "human:maria")
    ]
    hist = await WorkflowEngine(db).history(iid)
    assert (hist[-1].event, hist[-1].actor) == ("client_accepted_quote", "human:maria")
    assert (await rt.escalations.get(esc.id)).status == "approved"
    # the thread takes new messages again
    model.script.append("Anything else?")
    nxt = await rt.ask("thanks", thread_id=turn.thread_id)
    assert nxt.level == 1 and nxt.turn == 2


async def test_rejected_approval_applies_nothing(db: Database) -> None:
    iid = await booking_in(db, "quote_provided")
    model = ScriptedChatModel(
        [
            call(
                "request_approval",
                step="WF-WELL-BOOK:client_accepted_quote",
                instance_id=iid,
                reason="x",
            ),
            "Understood.",
        ]
    )
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("I accept the quote on B-9")
    assert turn.escalation is not None
    done = await rt.resolve(turn.escalation.id, approve=False, note="price changed", by="maria")
    assert done.actions == [] and (await WorkflowEngine(db).get(iid)).state == "quote_provided"


async def test_explicit_request_for_a_person_is_level_4_before_any_persona(db: Database) -> None:
    model = ScriptedChatModel([])  # no persona may run
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("I don't want a bot, I want to talk to a real person")
    assert turn.level == 4 and turn.escalation is not None
    assert turn.escalation.kind == "handoff"
    assert any(r.startswith("explicit_human_request") for r in turn.reasons)
    done = await rt.resolve(turn.escalation.id, approve=True, note="Hi, Maria here.", by="maria")
    assert done.reply.startswith("Hi, Maria here.") and done.persona == "grace"
    assert model.calls == []


async def test_level_2_merges_several_personas(db: Database) -> None:
    router = StubRouter(default="solari", refund="solari")
    router.secondary = ("atlas",)
    from agents.llm.structured import RoutingChoice

    choice = RoutingChoice(persona="solari", secondary=["atlas"], reason="two asks")
    model = ScriptedChatModel(
        [choice, "I can move your booking to Friday.", "Refunds take 5 days."]
    )
    rt = await runtime(db, model, router)
    turn = await rt.ask("Move my booking to friday and what's the refund time?")
    assert turn.level == 2 and any("multi_intent" in r for r in turn.reasons)
    assert turn.persona == "grace"
    assert "I can move your booking" in turn.reply and "Refunds take 5 days." in turn.reply


async def test_level_3_incident_summary(db: Database) -> None:
    model = ScriptedChatModel(default="We are on it.")
    rt = await runtime(db, model, StubRouter(default="ruvo"))
    turn = await rt.ask("The booking site is down and nobody can pay!")
    assert turn.level == 3 and turn.persona == "grace"
    assert turn.reply.startswith("**Incident summary")
    assert any(r.startswith("high_impact_incident") for r in turn.reasons)


async def test_talking_to_a_persona_directly(db: Database) -> None:
    model = ScriptedChatModel(["Liora here!"])
    router = StubRouter(default="solari")
    rt = await runtime(db, model, router)
    turn = await rt.ask("hello", persona="Liora")
    # triage still runs (a risk reaches a person whoever was asked), but the persona stands
    assert turn.persona == "liora" and turn.reply == "Liora here!" and router.calls


async def test_a_risk_reaches_a_person_even_when_a_persona_was_asked(db: Database) -> None:
    model = ScriptedChatModel([])  # no persona may run
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("I want to talk to a real person about this", persona="Liora")
    assert turn.level == 4 and turn.escalation is not None and model.calls == []


async def test_handoff_follows_the_collaboration_pattern(db: Database) -> None:
    model = ScriptedChatModel(
        [
            call("handoff", to="ruvo", reason="needs a task"),
            "Ruvo: task created.",
            call("handoff", to="zevi", reason="not allowed"),
            "Staying with you.",
        ]
    )
    rt = await runtime(db, model, StubRouter(default="nyra"))
    turn = await rt.ask("new lead, please follow up")
    assert turn.reply == "Ruvo: task created." and turn.persona == "ruvo"
    turn2 = await rt.ask("and tell zevi", thread_id=turn.thread_id, persona="nyra")
    assert [r["code"] for r in turn2.refusals] == ["handoff-not-allowed"]
    assert turn2.persona == "nyra" and turn2.reply == "Staying with you."


async def test_handoff_back_to_grace_asks_a_person(db: Database) -> None:
    model = ScriptedChatModel([call("handoff", to="grace", reason="out of my depth")])
    rt = await runtime(db, model, StubRouter(default="sage"))
    turn = await rt.ask("Something odd happened at the community event")
    assert turn.level == 4 and turn.escalation is not None
    assert turn.escalation.kind == "handoff"
    assert any(r.startswith("handoff_to_grace") for r in turn.escalation.reasons)


async def test_step_budget_ends_loops(db: Database) -> None:
    model = ScriptedChatModel(default=call("find_instances", state="inquiry"))
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("keep looking")
    assert turn.reply == BUDGET_MESSAGE
    assert len(model.calls) == rt.deps.step_budget


async def test_a_client_conversation_reaches_only_its_own_cases(db: Database) -> None:
    other = await booking_in(db, "consultation")  # booking:B-9, another client's case
    engine = WorkflowEngine(db)
    mine = await engine.start("WF-WELL-BOOK", "booking:B-5150")
    before = len(await engine.history(other))
    model = ScriptedChatModel(
        [
            call("find_instances", workflow_id="WF-WELL-BOOK"),
            call("well_book__consultation_completed", instance_id=other),
            "Done.",
        ]
    )
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("My booking is B-5150, what's happening with it?")
    # find_instances listed only the case the client named; the other client's case was refused
    listing = model.calls[1].messages[-1].text
    assert str(mine.id) in listing and other not in listing
    assert [r["code"] for r in turn.refusals] == ["instance-not-in-conversation"]
    assert (await engine.get(other)).state == "consultation"
    assert len(await engine.history(other)) == before  # nothing written for the refusal

    # staff may act on any case
    model.script += [call("well_book__consultation_completed", instance_id=other), "Done."]
    turn = await rt.ask("Mark B-9's consultation complete", audience="staff")
    assert [a["event"] for a in turn.actions] == ["consultation_completed"]


class UnsureRouter(StubRouter):
    """Always unsure, so a configured LLM is consulted on every turn."""

    def route(self, text: str, *, current: str | None = None) -> Decision:
        d = super().route(text, current=current)
        d.confidence = 0.1
        return d


async def test_the_llm_router_may_not_lower_a_risk_level_4(db: Database) -> None:
    from agents.llm.structured import RoutingChoice

    calm = RoutingChoice(persona="liora", escalate_to_human=False, reason="sounds routine")
    model = ScriptedChatModel([calm])
    rt = await runtime(db, model, UnsureRouter("solari"))
    turn = await rt.ask("I want to talk to a real person, now")
    assert len(model.calls) == 1  # the LLM router was asked...
    assert turn.level == 4 and turn.escalation is not None  # ...and the risk floor held


async def test_the_llm_router_may_raise_a_level(db: Database) -> None:
    from agents.llm.structured import RoutingChoice

    worried = RoutingChoice(persona="sage", escalate_to_human=True, reason="sounds unsafe")
    model = ScriptedChatModel([worried])
    rt = await runtime(db, model, UnsureRouter("solari"))
    turn = await rt.ask("someone keeps waiting for me outside the studio")
    assert turn.level == 4 and any("needs_human_judgement" in r for r in turn.reasons)


@pytest.mark.parametrize("hello", ["hello", "hi there", "Good morning!"])
async def test_a_greeting_gets_grace_s_greeting_and_routes_no_persona(
    db: Database, hello: str
) -> None:
    model = ScriptedChatModel(["Sage here!"])  # only the second turn may reach a persona
    rt = await runtime(db, model, StubRouter("sage"))
    turn = await rt.ask(hello)
    assert turn.persona == "grace" and turn.level == 1 and model.calls == []
    assert turn.reply.startswith("Hello, I'm Grace")
    # she says what the personas do, one line each
    assert "Solari:" in turn.reply and "Atlas:" in turn.reply and "Grace:" not in turn.reply
    # a greeting with a request is routed as usual
    booked = await rt.ask("hi there, can I book a massage on Friday?")
    assert booked.persona == "sage" and booked.reply == "Sage here!"
