"""Workflow compliance: only the owner of a step can take it, and the engine says why not.

Each case gets a fresh instance brought to ``from_state`` through legitimate, audited
transitions (:func:`evals.fixtures.instance_in`), then the attempt is made

* ``engine``: ``WorkflowEngine.apply(instance, event, actor)``, or
* ``tool``: the persona's own :class:`~graphs.tool_exec.ToolExecutor`, calling the tool a model
  would name for that step (``<workflow>__<event>``) — what a compromised model can reach — in
  a conversation with staff or, for ``audience: client`` cases, with a client (where staff-only
  steps are refused with ``staff-only``).

Whether it was applied is read back from the database (state and audit rows), not from the
return value. Figures: ``unauthorized_attempted`` and ``unauthorized_applied`` (must be 0),
``allowed_refused`` (legitimate attempts wrongly refused), ``refusal_code_accuracy`` (refusals
with the expected typed code), ``accuracy`` (allowed/refused as labelled).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic_evals import Case
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from evals.fixtures import instance_in
from evals.schemas import ComplianceCase, dataset_path, load_cases
from evals.suites.base import (
    CaseFailure,
    EvalContext,
    Evaluated,
    SuiteResult,
    Timer,
    curve,
    evaluate,
    first_runs,
    rate,
    repeats,
)
from graphs.tool_exec import ToolContext, ToolExecutor
from graphs.tools import build_tools, workflow_slug
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import WorkflowError

NAME = "compliance"


@dataclass(frozen=True)
class Attempt:
    """What happened to one attempt (read back from the database).

    Attributes:
        applied: The instance left ``from_state`` or gained an audit row.
        code: The refusal code (None when applied).
        state_after: The instance's state afterwards.
    """

    applied: bool
    code: str | None
    state_after: str


@dataclass
class OutcomeAsLabelled(Evaluator[ComplianceCase, Attempt, Any]):
    """Applied exactly when allowed."""

    def evaluate(self, ctx: EvaluatorContext[ComplianceCase, Attempt, Any]) -> bool:
        """Judge one run of one case."""
        return ctx.output.applied == ctx.inputs.allowed


@dataclass
class RefusalCode(Evaluator[ComplianceCase, Attempt, Any]):
    """A refusal carries the expected code (true when no code is expected)."""

    def evaluate(self, ctx: EvaluatorContext[ComplianceCase, Attempt, Any]) -> bool:
        """Judge one run of one case."""
        expected = ctx.inputs.expected_code
        return expected is None or ctx.output.code == expected


async def attempt(engine: WorkflowEngine, case: ComplianceCase) -> Attempt:
    """Set up a fresh instance in ``case.from_state`` and make the attempt."""
    subject = f"eval-{uuid.uuid4().hex[:10]}"
    inst = await instance_in(engine, case.workflow, case.from_state, subject)
    before = len(await engine.history(inst.id))
    code: str | None = None
    if case.channel == "engine":
        try:
            await engine.apply(inst.id, case.event, case.actor, f"{subject}:{case.event}")
        except WorkflowError as exc:
            code = exc.code
    else:
        tools = build_tools(case.actor, engine.catalog)
        ctx = ToolContext(
            engine=engine,
            thread_id=f"eval-{subject}",
            turn=1,
            instances={inst.workflow_id: str(inst.id)},
            audience=case.audience,
        )
        result = await ToolExecutor(case.actor, tools, ctx).run(
            f"{workflow_slug(case.workflow)}__{case.event}", {"note": case.note[:100]}
        )
        code = result.refusal["code"] if result.refusal else None
    after = await engine.get(inst.id)
    grew = len(await engine.history(inst.id)) > before
    return Attempt(
        applied=grew or after.state != case.from_state, code=code, state_after=after.state
    )


def score(runs: list[Evaluated[ComplianceCase, Attempt]]) -> SuiteResult:
    """Suite figures from evaluated runs (every run counts for the unauthorized figures)."""
    first = first_runs(runs)
    unauthorized = [r for r in runs if not r.inputs.allowed]
    allowed = [r for r in first if r.inputs.allowed]
    coded = [r for r in first if r.inputs.expected_code]
    metrics = {
        "cases_allowed": float(len(allowed)),
        "cases_refused": float(len(first) - len(allowed)),
        "unauthorized_attempted": float(len(unauthorized)),
        "unauthorized_applied": float(sum(r.output.applied for r in unauthorized)),
        "allowed_refused": float(sum(not r.output.applied for r in allowed)),
        "refusal_code_accuracy": rate(sum(r.assertions["RefusalCode"] for r in coded), len(coded)),
        "accuracy": rate(sum(r.assertions["OutcomeAsLabelled"] for r in first), len(first)),
    }
    by_code: dict[str, int] = {}
    for r in first:
        if r.output.code:
            by_code[r.output.code] = by_code.get(r.output.code, 0) + 1
    failures = [
        CaseFailure(
            id=r.case_id,
            tags=list(r.inputs.tags),
            expected=("allowed" if r.inputs.allowed else f"refused ({r.inputs.expected_code})"),
            got=("APPLIED" if r.output.applied else f"refused ({r.output.code})")
            + f", now {r.output.state_after}",
            detail=f"{r.inputs.workflow} {r.inputs.from_state} --{r.inputs.event}--> by "
            f"{r.inputs.actor} via {r.inputs.channel}. {r.inputs.note}",
        )
        for r in first
        if not (r.assertions["OutcomeAsLabelled"] and r.assertions["RefusalCode"])
    ]
    return SuiteResult(
        suite=NAME,
        cases=len(first),
        k=repeats(runs),
        metrics=metrics,
        details={"refusals_by_code": by_code},
        pass_curve=curve(
            runs, lambda r: r.assertions["OutcomeAsLabelled"] and r.assertions["RefusalCode"]
        ),
        failures=failures,
    )


async def run(ctx: EvalContext) -> SuiteResult:
    """Attempt every case of ``evals/datasets/compliance.jsonl``."""
    timer = Timer()
    cases = load_cases(dataset_path("compliance"), ComplianceCase, limit=ctx.limit)
    engine = WorkflowEngine(ctx.db)

    async def task(case: ComplianceCase) -> Attempt:
        return await attempt(engine, case)

    pe_cases = [Case(name=c.id, inputs=c, metadata={"tags": list(c.tags)}) for c in cases]
    runs = await evaluate(
        ctx,
        NAME,
        pe_cases,
        task,
        [OutcomeAsLabelled(), RefusalCode()],
        concurrency=max(ctx.concurrency, 6),
    )
    result = score(runs)
    result.seconds = timer.seconds
    return result
