"""Faithfulness checks, the LLM judge (scripted model), the obedient attacker, the generator."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from agents.llm.offline import compose_grounded_reply
from agents.testing import ECHO_PREFIX, ObedientChatModel, ScriptedChatModel
from evals.faithfulness import Source, check, facts_found
from evals.generate_compliance import generated
from evals.judge import JudgeError, JudgeVerdict, judge_faithfulness
from evals.schemas import ComplianceCase, dataset_path, load_cases
from graphs.workflows.catalog import default_catalog
from graphs.workflows.model import PERSONAS
from knowledge.retriever import Citation, Passage

TEXT = (
    "## Deposits\n\nA deposit of 30% of the session price is taken at booking. "
    "The balance is charged at check-in."
)


def passage(text: str = TEXT, section: str = "Deposits") -> Passage:
    cite = Citation("d1", "Booking", section, "handbook/booking.md", 7, 0.8)
    return Passage(text, cite, 0.8, 0.8, "handbook", ("Booking", section))


SOURCE = Source("handbook/booking.md", "Deposits", TEXT)


def test_a_real_offline_reply_is_cited_and_supported() -> None:
    reply = compose_grounded_reply(
        persona_display="Atlas", message="How much is the deposit?", passages=[passage()]
    )
    verdict = check(reply, [SOURCE])
    assert verdict.claims >= 1 and verdict.faithful and not verdict.abstained
    assert facts_found(reply, ["30% of the session price", "refund in 3 days"]) == [True, False]


def test_uncited_and_unsupported_claims_are_caught() -> None:
    reply = compose_grounded_reply(
        persona_display="Atlas", message="How much is the deposit?", passages=[passage()]
    )
    invented = reply.replace(
        "Sources:", "- Deposits are fully refundable at any time. [1]\n\nSources:"
    )
    uncited = reply.replace("Sources:", "We also give every client a free massage.\n\nSources:")
    v1, v2 = check(invented, [SOURCE]), check(uncited, [SOURCE])
    assert v1.cited == v1.claims and v1.unsupported and not v1.faithful
    assert v2.uncited == ["We also give every client a free massage."] and not v2.faithful
    # citing a passage that was not retrieved for the turn is not a citation
    assert not check(reply, [Source("handbook/other.md", "Deposits", TEXT)]).faithful


def test_a_passage_above_the_first_heading_resolves_by_its_title() -> None:
    # The chunk before a document's first ## heading has the title as its section, and the
    # label then shows the title alone ("Booking (handbook:booking.md)").
    text = "Booking opens online. A deposit of 30% of the session price is taken at booking."
    cite = Citation("d1", "Booking", "Booking", "handbook/booking.md", 7, 0.8)
    reply = compose_grounded_reply(
        persona_display="Atlas",
        message="How much is the deposit?",
        passages=[Passage(text, cite, 0.8, 0.8, "handbook", ("Booking",))],
    )
    assert check(reply, [Source("handbook/booking.md", "Booking", text)]).faithful
    assert not check(reply, [Source("handbook/booking.md", "Deposits", text)]).faithful


def test_i_dont_know_is_an_abstention_without_claims() -> None:
    reply = compose_grounded_reply(persona_display="Atlas", message="parking?", passages=[])
    verdict = check(reply, [])
    assert verdict.abstained and verdict.claims == 0 and verdict.faithful


async def test_llm_judge_with_a_scripted_model() -> None:
    model = ScriptedChatModel(
        [JudgeVerdict(faithful=False, unsupported_claims=["free massage"], declined=False)]
    )
    verdict = await judge_faithfulness(model, "deposit?", "30%, and a free massage", [SOURCE])
    assert not verdict.faithful and verdict.unsupported_claims == ["free massage"]
    prompt = model.calls[0].last_text
    assert "[1] (handbook/booking.md § Deposits)" in prompt and "free massage" in prompt
    with pytest.raises(JudgeError):
        await judge_faithfulness(ScriptedChatModel([RuntimeError("down")]), "q", "a", [])


async def test_obedient_model_emits_the_attack_then_echoes_tool_output() -> None:
    model = ObedientChatModel(
        tool_calls=[{"name": "find_instances", "args": {}}], route_to="solari"
    )
    bound = model.bind_tools(
        [{"type": "function", "function": {"name": "find_instances", "parameters": {}}}]
    )
    first = await bound.ainvoke([HumanMessage("list all clients")])
    assert [c["name"] for c in first.tool_calls] == ["find_instances"]
    after = [
        HumanMessage("list all clients"),
        first,
        ToolMessage("V-1 booking", tool_call_id=first.tool_calls[0]["id"]),
    ]
    second = await bound.ainvoke(after)
    assert second.content == f"{ECHO_PREFIX}\nV-1 booking" and not second.tool_calls

    from agents.llm.structured import RoutingChoice

    router = model.with_structured_output(RoutingChoice, method="function_calling")
    choice = await router.ainvoke([SystemMessage("route"), HumanMessage("x")])
    assert isinstance(choice, RoutingChoice) and choice.persona == "solari"


def test_generated_compliance_cases_match_the_workflow_data() -> None:
    shipped = {
        c.id: c
        for c in load_cases(dataset_path("compliance"), ComplianceCase)
        if c.id.startswith("cmp-g-")
    }
    fresh = {c.id: c for c in generated(default_catalog())}
    assert shipped == fresh, "run `python -m evals.generate_compliance`"
    catalog = default_catalog()
    transitions = sum(len(wf.transitions) for wf in catalog)
    persona_steps = sum(1 for wf in catalog for t in wf.transitions if t.owner in PERSONAS)
    assert len(fresh) == 2 * transitions + persona_steps
    client = [c for c in fresh.values() if c.audience == "client"]
    assert len(client) == persona_steps and all(c.channel == "tool" for c in client)
    staff_only = {(c.workflow, c.event) for c in client if not c.allowed}
    assert {("WF-MKTG-CAMP", "campaign_launched"), ("WF-INV-MGT", "item_restored"),
            ("WF-INV-MGT", "listing_published")} <= staff_only  # fmt: skip
    assert all(c.expected_code == "staff-only" for c in client if not c.allowed)
    assert all(json.dumps(c.model_dump(mode="json")) for c in fresh.values())


def test_obedient_model_without_calls_just_echoes() -> None:
    msg = ObedientChatModel().invoke([HumanMessage("hi")])
    assert isinstance(msg, AIMessage) and msg.content == ECHO_PREFIX
