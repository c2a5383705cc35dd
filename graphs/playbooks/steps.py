"""What each kind of playbook step does, with timeouts and retries.

Every state change goes through :class:`~graphs.workflows.engine.WorkflowEngine` with the step's
persona as actor (approvals: ``human:<who approved>``) and the idempotency key
``pb:<run>:<step>``, so a step body that runs again — after a crash, or a retry — replays the
first transition instead of applying a second one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from graphs.playbooks.model import Playbook, Step, render
from graphs.playbooks.packages import build_package
from graphs.playbooks.store import PlaybookStore
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import ConcurrentUpdateError
from graphs.workflows.records import TransitionResult

log = structlog.get_logger("grace.playbooks")

#: A knowledge lookup: query text -> passages (dicts with at least ``text``).
Lookup = Callable[[str], Awaitable[list[dict[str, Any]]]]
#: Receives every progress event of a run (CLI printer, SSE queue, webhooks, metrics).
EventSink = Callable[[dict[str, Any]], Awaitable[None]]
#: Test hook called after a step's transition is applied, before the step returns.
AfterApply = Callable[[str, str], Awaitable[None]]


class StepFailedError(RuntimeError):
    """A step failed for good (after its retries), or its approval was refused."""


class TransientStepError(RuntimeError):
    """A failure worth retrying (a lookup backend hiccup, a notification endpoint down)."""


#: Exceptions that a step's retries cover; anything else fails the step at once.
TRANSIENT: tuple[type[BaseException], ...] = (
    TimeoutError,
    ConcurrentUpdateError,
    TransientStepError,
    ConnectionError,
)


@dataclass
class Services:
    """What step bodies need.

    Attributes:
        engine: The workflow engine (the only way state changes).
        store: Run and step records.
        lookup: Knowledge lookup for ``lookup`` steps; None records an empty result.
        sinks: Progress event receivers.
        after_apply: Test hook (crash tests): awaited after a transition is applied.
        writer: A langchain chat model that writes each handoff's covering note in the sending
            persona's voice; None (offline) leaves the typed package without a note.
    """

    engine: WorkflowEngine
    store: PlaybookStore
    lookup: Lookup | None = None
    sinks: list[EventSink] = field(default_factory=list)
    after_apply: AfterApply | None = None
    writer: Any = None

    async def emit(self, event: dict[str, Any]) -> None:
        """Send ``event`` to every sink; a failing sink is logged, never fatal."""
        for sink in self.sinks:
            try:
                await sink(event)
            except Exception as exc:  # a broken receiver must not break the run
                log.warning("playbook.sink_failed", error=str(exc), type=event.get("type"))


def idempotency_key(run_id: str, step_id: str) -> str:
    """The engine key of a step's transition (one per run and step)."""
    return f"pb:{run_id}:{step_id}"


def transition_dict(t: TransitionResult) -> dict[str, Any]:
    """JSON-ready summary of an applied (or replayed) transition."""
    return {
        "workflow_id": t.workflow_id,
        "instance_id": str(t.instance_id),
        "event": t.event,
        "actor": t.actor,
        "from": t.from_state,
        "to": t.to_state,
        "version": t.version,
        "replayed": t.replayed,
    }


async def ensure_instance(
    svc: Services, pb: Playbook, step: Step, run: dict[str, Any], actor: str
) -> str:
    """The run's instance of ``step.workflow``, started (idempotently) on first use."""
    assert step.workflow is not None
    known = run["instances"].get(step.workflow)
    if known:
        return str(known)
    subject = render(step.subject, run["params"]) if step.subject else f"run-{run['run_id'][:8]}"
    inst = await svc.engine.start(
        step.workflow,
        subject,
        actor=actor,
        data={"playbook": pb.id, "run": run["run_id"]},
        idempotency_key=f"pb:{run['run_id']}:start:{step.workflow}",
    )
    await svc.store.add_instance(run["run_id"], step.workflow, str(inst.id))
    return str(inst.id)


async def fire(
    svc: Services, pb: Playbook, step: Step, run: dict[str, Any], actor: str
) -> tuple[str, dict[str, Any]]:
    """Apply the step's transition as ``actor``; returns (instance id, transition dict)."""
    assert step.event is not None
    instance = await ensure_instance(svc, pb, step, run, actor)
    result = await svc.engine.apply(
        instance,
        step.event,
        actor,
        idempotency_key(run["run_id"], step.id),
        {"playbook": pb.id, "version": pb.version, "run": run["run_id"], "step": step.id},
    )
    if svc.after_apply is not None:
        await svc.after_apply(run["run_id"], step.id)
    return instance, transition_dict(result)


def packages_so_far(pb: Playbook, done: dict[str, Any]) -> dict[str, Any]:
    """Handoff packages of the completed steps, by package type (later steps win)."""
    out: dict[str, Any] = {}
    for sid in pb.order():
        outcome = done.get(sid)
        if outcome and outcome.get("package_type"):
            out[outcome["package_type"]] = outcome["package"]
    return out


async def body(svc: Services, pb: Playbook, step: Step, run: dict[str, Any]) -> dict[str, Any]:
    """Run one attempt of a non-approval step; returns its outcome (JSON-ready)."""
    if step.kind == "transition":
        instance, t = await fire(svc, pb, step, run, step.persona)
        return {"instance": [step.workflow, instance], "transition": t}
    if step.kind == "handoff":
        assert step.package is not None
        package = build_package(
            step.package, run["params"], run.get("packages", {}), step.model_dump()
        )
        out = {"package_type": step.package, "from": step.persona, "to": step.to,
               "package": package}  # fmt: skip
        if svc.writer is not None:
            out["note"] = await handoff_note(svc.writer, step, package)
        return out
    if step.kind == "lookup":
        query = render(step.query or "", run["params"])
        results = await svc.lookup(query) if svc.lookup is not None else []
        note = None if svc.lookup is not None else "no knowledge store attached to this run"
        return {"query": query, "results": results, "note": note}
    # notify: the event goes to every sink (outbound webhooks among them)
    await svc.emit({"type": "playbook.notification", "topic": step.topic, "run_id": run["run_id"],
                    "playbook": pb.id, "step": step.id})  # fmt: skip
    return {"topic": step.topic}


async def handoff_note(writer: Any, step: Step, package: dict[str, Any]) -> str:
    """Ask ``writer`` for a short covering note from the sender to the receiver.

    The package itself stays the typed, deterministic data; the note is prose for people.
    """
    from langchain_core.messages import HumanMessage, SystemMessage

    reply = await writer.ainvoke([
        SystemMessage(f"You are {step.persona} of Grace Fields, handing work to {step.to}. "
                      "Write at most two sentences covering what matters in this package."),
        HumanMessage(json.dumps(package, ensure_ascii=False)),
    ])  # fmt: skip
    return str(getattr(reply, "content", reply))


async def run_with_retries(
    svc: Services, pb: Playbook, step: Step, run: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    """Run ``step`` with its timeout per attempt and exponential backoff between attempts.

    Returns:
        (outcome, attempts used).

    Raises:
        StepFailedError: the last attempt failed, or a non-transient error occurred.
    """
    attempts = 0
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(step.retries + 1),
            wait=wait_exponential(multiplier=step.backoff_s, max=30),
            retry=retry_if_exception_type(TRANSIENT),
            reraise=True,
        ):
            with attempt:
                attempts += 1
                outcome = await asyncio.wait_for(body(svc, pb, step, run), step.timeout_s)
    except TimeoutError as exc:
        raise StepFailedError(
            f"timed out after {step.timeout_s:g} s ({attempts} attempts)"
        ) from exc
    except Exception as exc:
        raise StepFailedError(f"{type(exc).__name__}: {exc}") from exc
    return outcome, attempts
