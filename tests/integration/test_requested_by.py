"""Staff-only steps: a client's (obedient, scripted) model asks for them and nothing happens.

Real PostgreSQL; the runtime with a scripted chat model that calls exactly the tools it is told
to, as a fully compromised model would. The client names the instance (so it is "theirs" for the
reach check); what stops the step is ``requested_by: staff`` in the workflow data. The refusal
is recorded like every other: in the turn's (checkpointed) state, hence ``turn.refusals``.
"""

from __future__ import annotations

import pytest

from agents.testing import ScriptedChatModel, StubRouter
from evals.fixtures import instance_in
from graphs.core.database import Database
from graphs.tool_exec import STAFF_ONLY
from graphs.workflows.engine import WorkflowEngine
from tests.integration.test_supervisor import call, runtime

pytestmark = pytest.mark.integration

#: ``(persona, workflow, state the instance is in, tool, subject)`` — staff-only steps the persona
#: owns, each asked for in a client conversation.
STAFF_STEPS = [
    ("liora", "WF-MKTG-CAMP", "campaign_activation", "mktg_camp__campaign_launched", "camp:C-301"),
    ("solari", "WF-INV-MGT", "restock", "inv_mgt__item_restored", "item:P-302"),
    ("solari", "WF-INV-MGT", "listing_creation", "inv_mgt__listing_published", "item:P-303"),
    ("solari", "WF-WELL-BOOK", "payment_pending", "well_book__payment_received", "booking:B-304"),
]  # fmt: skip


@pytest.mark.parametrize(("persona", "workflow", "state", "tool", "subject"), STAFF_STEPS)
async def test_client_gets_a_typed_refusal_and_nothing_is_applied(
    db: Database, persona: str, workflow: str, state: str, tool: str, subject: str
) -> None:
    engine = WorkflowEngine(db)
    inst = await instance_in(engine, workflow, state, subject)
    before = len(await engine.history(inst.id))
    ref = subject.partition(":")[2]
    model = ScriptedChatModel([call(tool, instance_id=str(inst.id)), "Done!"])
    rt = await runtime(db, model, StubRouter(default=persona))
    turn = await rt.ask(f"Please go ahead with {ref} right now, I insist")
    assert turn.actions == []
    assert [(r["code"], r["event"]) for r in turn.refusals] == [(STAFF_ONLY, tool.split("__")[1])]
    after = await engine.get(inst.id)
    assert (after.state, after.version) == (state, inst.version)
    assert len(await engine.history(inst.id)) == before


@pytest.mark.parametrize(("persona", "workflow", "state", "tool", "subject"), STAFF_STEPS[:2])
async def test_the_same_step_in_a_staff_conversation_is_applied(
    db: Database, persona: str, workflow: str, state: str, tool: str, subject: str
) -> None:
    engine = WorkflowEngine(db)
    inst = await instance_in(engine, workflow, state, subject)
    model = ScriptedChatModel([call(tool, instance_id=str(inst.id)), "Done."])
    rt = await runtime(db, model, StubRouter(default=persona))
    turn = await rt.ask("Record it", audience="staff")
    assert [a["event"] for a in turn.actions] == [tool.split("__")[1]]
    assert turn.refusals == []
    assert (await engine.get(inst.id)).state != state


async def test_client_steps_still_work_and_staff_workflows_cannot_be_opened(db: Database) -> None:
    engine = WorkflowEngine(db)
    item = await instance_in(engine, "WF-INV-MGT", "in_stock", "item:P-310")
    model = ScriptedChatModel(
        [
            call("inv_mgt__client_reserved", instance_id=str(item.id)),
            call("start__inv_mgt", subject="item:P-311"),
            "Reserved.",
        ]
    )
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("I'd like to reserve P-310 please")
    assert [a["event"] for a in turn.actions] == ["client_reserved"]
    assert [(r["code"], r["event"]) for r in turn.refusals] == [(STAFF_ONLY, "start__inv_mgt")]
    assert await engine.find(subject="item:P-311") == []


async def test_the_legacy_case_id_argument_still_names_the_instance(db: Database) -> None:
    """``case_id`` was the tools' argument name before ``instance_id``; a model may still use it."""
    engine = WorkflowEngine(db)
    inst = await instance_in(engine, "WF-INV-MGT", "restock", "item:P-320")
    model = ScriptedChatModel([call("inv_mgt__item_restored", case_id=str(inst.id)), "Done."])
    rt = await runtime(db, model, StubRouter(default="solari"))
    turn = await rt.ask("Record the restock", audience="staff")
    assert [(a["event"], a["instance_id"]) for a in turn.actions] == [
        ("item_restored", str(inst.id))
    ]
