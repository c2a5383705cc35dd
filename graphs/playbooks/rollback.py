"""Roll a playbook run back by compensating transitions, through the engine, audited.

Strategies (the seeds' automation engine):

* ``immediate`` — cancel the run and undo every completed step now, newest first;
* ``graceful`` — cancel, let the step in flight finish (wait until the run stops), then undo;
* ``checkpoint`` — undo only the steps completed after the step marked ``checkpoint: NAME``;
* ``manual`` — change nothing; return the commands a person would run.

A step that changed no state (handoff, lookup, notification, a gate without a transition) needs
no undo. A step that moved a workflow but has no compensation stops the rollback there: the
report names it and the states left as they are. Each compensation is fired as the persona the
step declares (``human`` means the person ordering the rollback) with the idempotency key
``pb:<run>:undo:<step>``, so running a rollback twice undoes nothing twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from graphs.playbooks.model import Playbook, PlaybookError
from graphs.playbooks.runner import PlaybookRunner, RunStateError
from graphs.playbooks.store import StepRecord

Strategy = Literal["immediate", "graceful", "checkpoint", "manual"]
STRATEGIES: tuple[Strategy, ...] = ("immediate", "graceful", "checkpoint", "manual")


@dataclass
class RollbackReport:
    """What a rollback did.

    Attributes:
        run_id: The run.
        strategy: How.
        outcome: ``done`` (every step that needed it was undone), ``stopped`` (a step could
            not be undone; see ``stopped_at`` and ``reason``) or ``instructions`` (manual).
        undone: ``{"step", "workflow_id", "event", "actor", "from", "to", "replayed"}`` each.
        skipped: Steps that changed no state.
        instructions: Manual strategy: one command per step, in order.
    """

    run_id: str
    strategy: Strategy
    outcome: Literal["done", "stopped", "instructions"] = "done"
    checkpoint: str | None = None
    undone: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)
    stopped_at: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def _to_undo(pb: Playbook, steps: list[StepRecord], checkpoint: str | None) -> list[StepRecord]:
    done = [s for s in steps if s.status == "completed" and s.seq is not None]
    done.sort(key=lambda s: s.seq or 0)
    if checkpoint is not None:
        marks = [s.id for s in pb.steps if s.checkpoint == checkpoint]
        if not marks:
            names = ", ".join(s.checkpoint for s in pb.steps if s.checkpoint) or "none"
            raise PlaybookError(f"{pb.id} has no checkpoint {checkpoint!r} (has: {names})")
        ids = [s.step_id for s in done]
        if marks[0] not in ids:
            raise RunStateError(f"checkpoint {checkpoint!r} was not reached in this run")
        done = done[ids.index(marks[0]) + 1 :]
    return list(reversed(done))


async def rollback(
    runner: PlaybookRunner,
    run_id: UUID | str,
    strategy: Strategy,
    *,
    checkpoint: str | None = None,
    by: str = "operator",
    wait_s: float = 60.0,
) -> RollbackReport:
    """Roll back run ``run_id``.

    Args:
        runner: The runner (engine, store, playbooks).
        run_id: The run.
        strategy: See the module docstring.
        checkpoint: Required for ``checkpoint``: the name of a step's checkpoint.
        by: The person ordering it; ``human`` compensations are fired as ``human:<by>``.
        wait_s: ``graceful``: how long to wait for the step in flight.

    Raises:
        UnknownRunError: no such run.
        PlaybookError: a checkpoint name the playbook lacks, or none given for ``checkpoint``.
        RunStateError: the checkpoint was not reached, the run was already rolled back, or a
            graceful wait timed out.
    """
    store = runner.store
    run = await store.get(run_id)
    if run.status == "rolled_back":
        raise RunStateError(f"run {run_id} was already rolled back")
    if strategy == "checkpoint" and not checkpoint:
        raise PlaybookError("the checkpoint strategy needs a checkpoint name")
    pb = runner.playbooks.get(run.playbook_id)
    report = RollbackReport(str(run.id), strategy, checkpoint=checkpoint)
    if strategy != "manual" and not run.finished:
        await runner.cancel(run.id)
        if strategy == "graceful":
            run = await _wait_stopped(runner, run.id, wait_s)
    run = await store.get(run.id)
    for rec in _to_undo(pb, run.steps, checkpoint):
        step = pb.step(rec.step_id)
        t = rec.transition
        if t is None:
            report.skipped.append(rec.step_id)
            continue
        comp = step.compensation
        if comp is None:
            report.outcome, report.stopped_at = "stopped", rec.step_id
            report.reason = (
                f"{t['workflow_id']} {t['event']} ({t['from']} -> {t['to']}) has no compensation:"
                " the workflow has no edge back; later steps stay as they are"
            )
            if strategy == "manual":
                report.instructions.append(f"# {rec.step_id}: cannot be undone ({report.reason})")
            break
        actor = f"human:{by}" if comp.persona == "human" else comp.persona
        if strategy == "manual":
            report.instructions.append(
                f"grace workflows fire {t['instance_id']} {comp.event} --as {actor}"
            )
            continue
        result = await runner.engine.apply(
            t["instance_id"], comp.event, actor, f"pb:{run.id}:undo:{rec.step_id}",
            {"rollback": strategy, "run": str(run.id), "step": rec.step_id},
        )  # fmt: skip
        await store.mark_compensated(run.id, rec.step_id)
        report.undone.append({"step": rec.step_id, "workflow_id": result.workflow_id,
                              "event": comp.event, "actor": result.actor,
                              "from": result.from_state, "to": result.to_state,
                              "replayed": result.replayed})  # fmt: skip
    if strategy == "manual":
        report.outcome = "instructions"
        if report.stopped_at is None and not report.instructions:
            report.instructions.append("# nothing to undo: no completed step changed state")
    elif report.outcome == "done":
        await store.set_status(run.id, "rolled_back")
    await store.record_rollback(run.id, strategy, checkpoint, by, report.outcome, report.as_dict())
    await runner.services.emit({"type": "playbook.rolled_back", "run_id": str(run.id),
                                "playbook": pb.id, "strategy": strategy,
                                "outcome": report.outcome})  # fmt: skip
    return report


async def _wait_stopped(runner: PlaybookRunner, run_id: UUID, wait_s: float) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        run = await runner.store.get(run_id, steps=False)
        if run.status != "running":
            return run
        if loop.time() > deadline:
            raise RunStateError(f"run {run_id} still running after {wait_s:g} s")
        await asyncio.sleep(0.05)
