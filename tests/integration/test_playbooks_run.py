"""Playbooks run end to end on LangGraph with the Postgres checkpointer and the engine."""

from __future__ import annotations

import asyncio

import pytest

from graphs.core.database import Database
from graphs.playbooks.model import default_playbooks
from graphs.playbooks.runner import RunStateError
from graphs.playbooks.steps import idempotency_key
from tests.integration.playbook_fixtures import AGENCY_PARAMS, approve_all, runner_on

pytestmark = pytest.mark.integration


async def test_agency_cycle_runs_to_completion_with_each_state_change_once(db: Database) -> None:
    events: list[dict] = []

    async def sink(e: dict) -> None:
        events.append(e)

    async with runner_on(db, sinks=[sink]) as runner:
        run = await runner.start("agency-cycle", AGENCY_PARAMS, requested_by="alice")
        assert run.status == "waiting_approval"
        assert [g["step"] for g in await runner.pending(run.id)] == ["approve_plan"]
        run = await approve_all(runner, run)
        assert run.status == "completed", run.error
        pb = default_playbooks().get("agency-cycle")
        assert {s.step_id for s in run.steps} == {s.id for s in pb.steps}
        assert all(s.status == "completed" and s.executions == 1 for s in run.steps)
        mk = await runner.engine.get(run.instances["WF-MKTG-CAMP"])
        consult = await runner.engine.get(run.instances["WF-CONSULT"])
        assert (mk.state, consult.state) == ("monitoring", "completed")
        history = await runner.engine.history(consult.id)
        by_event = {h.event: h.actor for h in history}
        assert by_event["lead_qualified"] == "nyra"
        assert by_event["terms_agreed"] == "human:alice"
        assert by_event["payment_received"] == "solari"
        keys = [h.idempotency_key for h in history if h.event != "start"]
        assert keys == [idempotency_key(str(run.id), s) for s in
                        ("qualify", "discovery", "proposal", "agree_terms", "sign_contract",
                         "kickoff", "midpoint_review", "execution_done", "deliver",
                         "client_accepts", "invoice", "payment", "feedback_in")]  # fmt: skip
        briefs = next(s for s in run.steps if s.step_id == "sales_briefs").output
        assert briefs is not None
        assert briefs["package"]["briefs"][0]["prospect_id"] == "L1"
        wo = next(s for s in run.steps if s.step_id == "work_order").output
        assert wo is not None and wo["package"]["milestones"][-1]["due"] == "2027-02-13"
    types = [e["type"] for e in events]
    assert types[0] == "playbook.started" and types[-1] == "playbook.completed"
    assert types.count("playbook.step.completed") == len(pb.steps)


async def test_refused_approval_fails_the_run_and_finished_runs_refuse_more(db: Database) -> None:
    async with runner_on(db) as runner:
        run = await runner.start("agency-cycle", AGENCY_PARAMS)
        run = await runner.approve(run.id, "approve_plan", by="bob", approved=False, note="no")
        assert run.status == "failed"
        assert run.error is not None and "refused by bob" in run.error
        with pytest.raises(RunStateError):
            await runner.approve(run.id, "approve_plan", by="bob")
        mk = (
            await runner.engine.get(run.instances.get("WF-MKTG-CAMP") or "")
            if run.instances
            else None
        )
        assert mk is None  # nothing started before the refused gate


async def test_cancel_while_waiting_stops_the_run(db: Database) -> None:
    async with runner_on(db) as runner:
        run = await runner.start("agency-cycle", AGENCY_PARAMS)
        run = await runner.cancel(run.id)
        assert run.status == "cancelled"
        with pytest.raises(RunStateError):
            await runner.approve(run.id, "approve_plan", by="alice")
        with pytest.raises(RunStateError):
            await runner.cancel(run.id)


async def test_retries_with_backoff_then_timeout_fails_the_step(db: Database) -> None:
    from graphs.playbooks.model import Playbook, PlaybookCatalog
    from graphs.playbooks.steps import TransientStepError

    pb = Playbook.model_validate({
        "id": "flaky", "version": 1, "name": "flaky", "description": "flaky lookups",
        "steps": [
            {"id": "flaky", "kind": "lookup", "persona": "atlas", "query": "q", "retries": 2,
             "backoff_s": 0.01},
            {"id": "slow", "kind": "lookup", "persona": "atlas", "query": "slow",
             "timeout_s": 0.05, "retries": 1, "backoff_s": 0.01, "depends_on": ["flaky"]},
        ],
    })  # fmt: skip
    calls: list[str] = []

    async def lookup(query: str) -> list[dict]:
        calls.append(query)
        if query == "q" and calls.count("q") < 3:
            raise TransientStepError("index warming up")
        if query == "slow":
            await asyncio.sleep(1)
        return [{"text": "ok"}]

    async with runner_on(db, playbooks=PlaybookCatalog([pb]), lookup=lookup) as runner:
        run = await runner.start("flaky")
    steps = {s.step_id: s for s in run.steps}
    assert steps["flaky"].status == "completed" and steps["flaky"].attempts == 3
    assert steps["slow"].status == "failed" and "timed out after 0.05 s" in (
        steps["slow"].error or ""
    )
    assert calls == ["q", "q", "q", "slow", "slow"]
    assert run.status == "failed"


@pytest.mark.parametrize("with_model", [False, True], ids=["offline", "scripted-model"])
@pytest.mark.parametrize("playbook_id", [pb.id for pb in default_playbooks()])
async def test_every_builtin_runs_end_to_end(
    db: Database, playbook_id: str, with_model: bool
) -> None:
    from agents.testing import ScriptedChatModel

    model = ScriptedChatModel([], default=lambda msgs: f"note: {msgs[0].content.split(',')[0]}")
    pb = default_playbooks().get(playbook_id)
    async with runner_on(db, writer=model if with_model else None) as runner:
        run = await approve_all(runner, await runner.start(pb.id, pb.sample_params))
    assert run.status == "completed", run.error
    handoffs = [s for s in run.steps if s.kind == "handoff"]
    assert all(s.output and s.output["package"] for s in handoffs)  # kb-article has none
    notes = [(s.output or {}).get("note") for s in handoffs]
    if with_model:
        assert all(n and n.startswith("note: You are ") for n in notes)
        assert len(model.calls) == len(handoffs)
    else:
        assert notes == [None] * len(handoffs)
