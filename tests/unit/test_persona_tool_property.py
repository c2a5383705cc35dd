"""Property (issue 15): a model that calls every tool a persona is offered, with schema-valid
arguments, never gets a transition applied that the persona does not own.

For each persona, in a fresh embedded database: one case of every workflow is brought, through
legitimate audited steps, to every state from which an event named by one of the persona's
tools leaves — in *any* workflow, since event names repeat across workflows with different
owners (``feedback_received`` is Solari's in WF-WELL-BOOK and Liora's in WF-CONSULT). An
:class:`agents.testing.EveryToolChatModel` is then offered the persona's tools and calls each of
them once per argument set: every instance id a transition could fire on, no instance id, an unknown
one, every ``enum`` value of approvals and hand-overs. Its calls go through the real
:class:`graphs.tool_exec.ToolExecutor` in a staff conversation (the widest reach a persona
has). Afterwards the audit table must hold, besides the set-up rows, only rows written by the
persona for transitions it owns, and starts only of workflows whose first step it owns.

The argument space is enumerated, not sampled: each schema has at most a handful of fields,
and the only one that reaches business state, ``instance_id``, is covered by every case that could
move. A second model asks for every *other* persona's tools too (a binding bug, or a model
inventing names): the executor must refuse them all as ``not-your-tool``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agents.registry import PersonaRegistry
from agents.testing import EveryToolChatModel, ScriptedChatModel
from evals.fixtures import instance_in
from graphs.core.database import Database
from graphs.tool_exec import ToolContext, ToolExecutor
from graphs.tools import ToolSpec, build_tools
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.model import PERSONAS

pytestmark = pytest.mark.integration

UNKNOWN_CASE = "00000000-0000-0000-0000-000000000000"


def _tools(persona: str, engine: WorkflowEngine) -> list[ToolSpec]:
    handoffs = PersonaRegistry.load().get(persona).handoffs_to
    return build_tools(persona, engine.catalog, handoffs=tuple(h for h in handoffs if h != persona))


async def _seed(engine: WorkflowEngine, events: set[str]) -> dict[str, list[str]]:
    """``{event: [case ids]}``: a case in every state any workflow leaves by one of ``events``."""
    cases: dict[str, list[str]] = {e: [] for e in events}
    for wf in engine.catalog:
        for state in sorted({t.from_state for t in wf.transitions if t.event in events}):
            inst = await instance_in(engine, wf.id, state, f"prop-{uuid.uuid4().hex[:8]}")
            for t in wf.outgoing(state):
                if t.event in events:
                    cases[t.event].append(str(inst.id))
    return cases


def _argument_sets(specs: list[ToolSpec], cases: dict[str, list[str]]) -> Any:
    by_name = {s.name: s for s in specs}

    def arguments(tool: dict[str, Any]) -> list[dict[str, Any]]:
        spec = by_name[tool["function"]["name"]]
        if spec.kind == "transition":
            assert spec.transition is not None
            ids = [*cases[spec.transition.event], UNKNOWN_CASE]
            return [{"note": "property test"}] + [{"instance_id": c} for c in ids]
        if spec.kind == "start":
            return [{"subject": f"P-{uuid.uuid4().hex[:6]}", "details": "property test"}]
        if spec.kind == "approval":
            return [{"step": step, "reason": "property test"} for step in spec.choices]
        if spec.kind == "handoff":
            return [{"to": to, "reason": "property test"} for to in spec.choices]
        if spec.kind == "search":
            return [{"query": "refunds"}]
        return [{}, {"state": "inquiry"}]  # find_instances: every field is optional

    return arguments


async def _audit(db: Database) -> list[dict[str, Any]]:
    async with db.connection() as conn:
        cur = await conn.execute(
            "SELECT a.id, i.workflow_id, a.event, a.actor, a.from_state, a.to_state"
            "  FROM workflow_audit a JOIN workflow_instances i ON i.id = a.instance_id"
            " ORDER BY a.id"
        )
        cols = [c.name for c in cur.description or ()]
        return [dict(zip(cols, row, strict=True)) for row in await cur.fetchall()]


async def _run_calls(executor: ToolExecutor, model: ScriptedChatModel, specs: list[dict[str, Any]]):
    reply = await model.bind_tools(specs).ainvoke("Do everything you can, on every case.")
    assert reply.tool_calls, "the model called nothing"
    return [(c, await executor.run(c["name"], c["args"])) for c in reply.tool_calls]


@pytest.mark.parametrize("persona", PERSONAS)
async def test_every_offered_tool_never_applies_a_transition_the_persona_does_not_own(
    db: Database, persona: str
) -> None:
    engine = WorkflowEngine(db)
    catalog = engine.catalog
    specs = _tools(persona, engine)
    events = {s.transition.event for s in specs if s.transition is not None}
    cases = await _seed(engine, events)
    seeded = len(await _audit(db))

    ctx = ToolContext(engine=engine, thread_id=f"prop-{persona}", turn=1, audience="staff")
    executor = ToolExecutor(persona, specs, ctx)
    model = EveryToolChatModel(arguments=_argument_sets(specs, cases))
    results = await _run_calls(executor, model, [s.as_openai_tool() for s in specs])

    offered = {s.name for s in specs}
    assert {c["name"] for c, _ in results} == offered  # every tool was tried
    assert model.offered_tool_names == offered

    new_rows = (await _audit(db))[seeded:]
    owned_starts = {
        wf.id
        for wf in catalog
        if any(t.from_state == wf.initial_state for t in wf.owned_by(persona))
    }
    for row in new_rows:
        assert row["actor"] == persona, row
        if row["event"] == "start":
            assert row["workflow_id"] in owned_starts, row
            continue
        t = catalog.get(row["workflow_id"]).transition(row["from_state"], row["event"])
        assert t is not None and t.owner == persona, f"{persona} applied {row}"
    applied = [r.action for _, r in results if r.action is not None and not r.action["replayed"]]
    assert len(applied) == len(new_rows)  # what the executor reported is what the audit holds
    if any(wf.owned_by(persona) for wf in catalog):
        assert applied, "no owned transition could be applied: the property tested nothing"
    # where another owner's step shares an event name, it was tried, and refused by its owner
    foreign = [
        t for wf in catalog for t in wf.transitions if t.event in events and t.owner != persona
    ]
    refused = {r.refusal["code"] for _, r in results if r.refusal is not None}
    if foreign:
        assert refused & {"not-owner", "human-approval-required"}, refused


@pytest.mark.parametrize("persona", PERSONAS)
async def test_tools_of_other_personas_are_refused_even_when_a_model_names_them(
    db: Database, persona: str
) -> None:
    engine = WorkflowEngine(db)
    own = _tools(persona, engine)
    others = {
        s.name: s
        for p in PERSONAS
        if p != persona
        for s in _tools(p, engine)
        if s.name not in {o.name for o in own}
    }
    cases = await _seed(engine, {s.transition.event for s in others.values() if s.transition})
    seeded = len(await _audit(db))
    ctx = ToolContext(engine=engine, thread_id=f"prop-x-{persona}", turn=1, audience="staff")
    model = EveryToolChatModel(arguments=_argument_sets(list(others.values()), cases))
    results = await _run_calls(
        ToolExecutor(persona, own, ctx), model, [s.as_openai_tool() for s in others.values()]
    )
    assert results and all(r.refusal and r.refusal["code"] == "not-your-tool" for _, r in results)
    assert len(await _audit(db)) == seeded
