"""Compile a playbook to a LangGraph graph.

The graph has three nodes:

* ``plan`` — checks for a cancel request, then fans out with one ``Send("step", …)`` per step
  whose dependencies are all done: steps that become ready together run in parallel (one
  LangGraph superstep); the next ``plan`` runs when all of them finished;
* ``step`` — runs one step (:mod:`graphs.playbooks.steps`); an ``approval`` step calls
  ``interrupt`` and the run waits in the checkpointer until a person answers;
* ``finish`` — settles the outcome (completed, failed or cancelled).

With the Postgres checkpointer and ``durability="sync"`` every finished superstep is committed
before the next starts, so a killed process resumes at the superstep it was in; steps of that
superstep run again and their transitions replay through the engine's idempotency keys.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from graphs.playbooks.model import Playbook
from graphs.playbooks.steps import (
    Services,
    StepFailedError,
    fire,
    packages_so_far,
    run_with_retries,
)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {**a, **b}


class RunState(TypedDict, total=False):
    """The checkpointed control state of one run."""

    run_id: str
    params: dict[str, Any]
    done: Annotated[dict[str, Any], _merge]
    failed: Annotated[dict[str, str], _merge]
    instances: Annotated[dict[str, str], _merge]
    outcome: str


class StepTask(TypedDict):
    """What ``plan`` sends to ``step``: what the step needs of the run, and its id.

    Only a handoff gets the earlier packages (``packages``); the checkpoint keeps each task's
    payload, so sending the whole ``done`` map to every step would grow every write.
    """

    run_id: str
    params: dict[str, Any]
    packages: dict[str, Any]
    instances: dict[str, str]
    step_id: str


class Decision(BaseModel):
    """A person's answer to an approval gate (the value passed to ``Command(resume=…)``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    approved: bool
    by: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    note: str = Field(default="", max_length=2000)


def compile_playbook(pb: Playbook, svc: Services, checkpointer: Any = None) -> Any:
    """Build and compile the graph of ``pb``.

    Args:
        pb: A playbook that passed validation.
        svc: Engine, store, lookup and event sinks the steps use.
        checkpointer: A LangGraph checkpointer (Postgres in production; None for a graph
            that only runs straight through, e.g. in unit tests without approvals).

    Returns:
        The compiled graph (``CompiledStateGraph``); its thread id is the run id.
    """
    steps = {s.id: s for s in pb.steps}

    async def plan(state: RunState) -> dict[str, Any]:
        if await svc.store.cancel_requested(state["run_id"]):
            return {"outcome": "cancelled"}
        return {}

    def route(state: RunState) -> list[Send] | str:
        if state.get("outcome") or state.get("failed"):
            return "finish"
        done = state.get("done", {})
        ready = [s for s in pb.steps
                 if s.id not in done and all(d in done for d in s.depends_on)]  # fmt: skip
        if not ready:
            return "finish"
        base = {
            "run_id": state["run_id"],
            "params": state["params"],
            "instances": state.get("instances", {}),
        }
        return [
            Send("step", {**base, "step_id": s.id,
                          "packages": packages_so_far(pb, done) if s.kind == "handoff" else {}})
            for s in ready
        ]  # fmt: skip

    async def step(task: StepTask) -> dict[str, Any]:
        s = steps[task["step_id"]]
        run = dict(task)
        if s.kind == "approval":
            await svc.store.step_started(task["run_id"], s.id, s.kind, s.persona, "waiting")
            answer = interrupt({"step": s.id, "workflow": s.workflow, "event": s.event,
                                "description": s.description})  # fmt: skip
            return await _approval(pb, svc, s.id, run, answer)
        await svc.store.step_started(task["run_id"], s.id, s.kind, s.persona)
        try:
            outcome, attempts = await run_with_retries(svc, pb, s, run)
        except StepFailedError as exc:
            return await _failed(pb, svc, s.id, task["run_id"], str(exc), s.retries + 1)
        return await _completed(pb, svc, s.id, run, outcome, attempts)

    async def finish(state: RunState) -> dict[str, Any]:
        if state.get("outcome"):
            return {}
        return {"outcome": "failed" if state.get("failed") else "completed"}

    g: StateGraph[Any] = StateGraph(RunState)
    g.add_node("plan", plan)
    g.add_node("step", step)  # type: ignore[arg-type]
    g.add_node("finish", finish)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", route, ["step", "finish"])
    g.add_edge("step", "plan")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer, name=f"playbook:{pb.id}")


async def _completed(
    pb: Playbook, svc: Services, step_id: str, run: dict[str, Any], outcome: dict[str, Any],
    attempts: int,
) -> dict[str, Any]:  # fmt: skip
    inst = outcome.pop("instance", None)
    await svc.store.step_finished(
        run["run_id"], step_id, status="completed", attempts=attempts,
        output={k: v for k, v in outcome.items() if k != "transition"},
        transition=outcome.get("transition"),
    )  # fmt: skip
    await svc.emit({"type": "playbook.step.completed", "run_id": run["run_id"], "playbook": pb.id,
                    "step": step_id, "persona": pb.step(step_id).persona, **outcome})  # fmt: skip
    update: dict[str, Any] = {"done": {step_id: outcome}}
    if inst is not None:
        update["instances"] = {inst[0]: inst[1]}
    return update


async def _failed(
    pb: Playbook, svc: Services, step_id: str, run_id: str, error: str, attempts: int
) -> dict[str, Any]:
    await svc.store.step_finished(run_id, step_id, status="failed", attempts=attempts, error=error)
    await svc.emit({"type": "playbook.step.failed", "run_id": run_id, "playbook": pb.id,
                    "step": step_id, "error": error})  # fmt: skip
    return {"failed": {step_id: error}}


async def _approval(
    pb: Playbook, svc: Services, step_id: str, run: dict[str, Any], answer: Any
) -> dict[str, Any]:
    s = pb.step(step_id)
    try:
        decision = Decision.model_validate(answer)
    except ValidationError as exc:
        return await _failed(pb, svc, step_id, run["run_id"], f"invalid decision: {exc}", 1)
    if not decision.approved:
        why = f"refused by {decision.by}" + (f": {decision.note}" if decision.note else "")
        return await _failed(pb, svc, step_id, run["run_id"], why, 1)
    await svc.store.step_started(run["run_id"], step_id, s.kind, s.persona)
    outcome: dict[str, Any] = {"approved_by": decision.by, "note": decision.note}
    if s.event is not None:
        try:
            inst, t = await fire(svc, pb, s, run, f"human:{decision.by}")
        except Exception as exc:  # a refusal by the engine fails the gate with its reason
            return await _failed(pb, svc, step_id, run["run_id"], f"{type(exc).__name__}: {exc}", 1)
        outcome |= {"instance": [s.workflow, inst], "transition": t}
    return await _completed(pb, svc, step_id, run, outcome, 1)
