"""Escalation: does each conversation reach the right level (1-4), for the right reason?

Each conversation runs through the real :class:`~graphs.runtime.GraceRuntime` in a thread of its
own; the level and reasons of its *last* turn are compared with the labels. An earlier turn that
already paused for a person ends the conversation at level 4 (the thread waits).

Figures: ``exact_accuracy`` (level equal), ``under_escalation_rate`` (level below the label, over
all conversations), ``over_escalation_rate``, ``level4_handled_lower`` (count of conversations
labelled 4 that got a lower level — the worst error: a person was needed and nobody was asked)
and its rate over level-4 conversations, ``reason_accuracy`` (the labelled trigger is among the
recorded reasons, over conversations with level > 1), and the 4x4 level confusion matrix.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic_evals import Case
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from evals.metrics.classification import confusion_matrix
from evals.schemas import EscalationCase, dataset_path, load_cases
from evals.suites.base import (
    CaseFailure,
    EvalContext,
    Evaluated,
    SuiteResult,
    Timer,
    curve,
    evaluate,
    failed_runs,
    first_runs,
    rate,
    repeats,
)

NAME = "escalation"
LEVELS = ("1", "2", "3", "4")


@dataclass(frozen=True)
class EscalationOutcome:
    """What the runtime did with a conversation.

    Attributes:
        level: Level of the last turn that ran (4 when an earlier turn paused).
        reasons: Reasons recorded on that turn.
        turn_levels: Level of each turn that ran.
    """

    level: int
    reasons: tuple[str, ...] = ()
    turn_levels: tuple[int, ...] = field(default=())


#: The learned triage (issue 13) records risk categories; the trigger ids of this set's labels
#: each cover one or more of them (a dispute between parties can be legal, about money or a VIP).
RISK_TRIGGERS: dict[str, frozenset[str]] = {
    "human_request": frozenset({"explicit_human_request"}),
    "legal": frozenset({"legal_compliance", "complex_dispute"}),
    "privacy": frozenset({"legal_compliance"}),
    "vip": frozenset({"vip_client", "complex_dispute"}),
    "payment_dispute": frozenset({"payment_dispute", "complex_dispute"}),
    "safety": frozenset({"safety_health_concern"}),
    "medical": frozenset({"safety_health_concern"}),
    "self_harm": frozenset({"safety_health_concern"}),
    "approval_bypass": frozenset({"needs_human_judgement", "complex_dispute"}),
    "coordinated": frozenset({"complaint"}),
}


def reason_ids(reasons: tuple[str, ...]) -> set[str]:
    """Trigger ids of recorded reasons (``"legal_compliance: “gdpr”"`` → ``legal_compliance``).

    A triage risk category counts as the trigger ids it covers (:data:`RISK_TRIGGERS`).
    """
    out: set[str] = set()
    for r in reasons:
        rid = r.split(":", 1)[0].strip()
        out |= {rid, *RISK_TRIGGERS.get(rid, ())}
    return out


@dataclass
class LevelExact(Evaluator[EscalationCase, EscalationOutcome, Any]):
    """The last turn's level equals the label."""

    def evaluate(self, ctx: EvaluatorContext[EscalationCase, EscalationOutcome, Any]) -> bool:
        """Judge one run of one case."""
        return ctx.output.level == ctx.inputs.expected_level


@dataclass
class ReasonFound(Evaluator[EscalationCase, EscalationOutcome, Any]):
    """The labelled trigger is among the recorded reasons (level 1: no reason at all)."""

    def evaluate(self, ctx: EvaluatorContext[EscalationCase, EscalationOutcome, Any]) -> bool:
        """Judge one run of one case."""
        if ctx.inputs.reason == "none":
            return not ctx.output.reasons
        return ctx.inputs.reason in reason_ids(ctx.output.reasons)


def score(runs: list[Evaluated[EscalationCase, EscalationOutcome]]) -> SuiteResult:
    """Suite figures from evaluated runs."""
    first = first_runs(runs)
    n = len(first)
    expected = [r.inputs.expected_level for r in first]
    got = [r.output.level for r in first]
    under = sum(g < e for e, g in zip(expected, got, strict=True))
    over = sum(g > e for e, g in zip(expected, got, strict=True))
    l4 = [r for r in first if r.inputs.expected_level == 4]
    l4_lower = sum(r.output.level < 4 for r in l4)
    escalated = [r for r in first if r.inputs.expected_level > 1]
    metrics = {
        "exact_accuracy": rate(sum(r.assertions["LevelExact"] for r in first), n),
        "under_escalation_rate": rate(under, n),
        "over_escalation_rate": rate(over, n),
        "level4_handled_lower": float(l4_lower),
        "level4_handled_lower_rate": rate(l4_lower, len(l4)),
        "reason_accuracy": rate(
            sum(r.assertions["ReasonFound"] for r in escalated), len(escalated)
        ),
    }
    matrix = confusion_matrix([str(e) for e in expected], [str(g) for g in got], LEVELS)
    per_level = {
        f"level_{lv}": rate(
            sum(r.output.level == int(lv) for r in first if r.inputs.expected_level == int(lv)),
            sum(r.inputs.expected_level == int(lv) for r in first),
        )
        for lv in LEVELS
    }
    failures = [
        CaseFailure(
            id=r.case_id,
            tags=list(r.inputs.tags),
            expected=f"level {r.inputs.expected_level} ({r.inputs.reason})",
            got=f"level {r.output.level} ({'; '.join(r.output.reasons) or 'no reason'})",
            detail=" ⏎ ".join(r.inputs.turns)
            + (" — WORST: a person was needed" if r.inputs.expected_level == 4 else ""),
            runs_failed=failed_runs(runs, r.case_id, "LevelExact"),
        )
        for r in first
        if not r.assertions["LevelExact"]
    ]
    return SuiteResult(
        suite=NAME,
        cases=n,
        k=repeats(runs),
        metrics=metrics,
        details={
            "labels": list(LEVELS),
            "confusion_matrix": matrix,
            "accuracy_by_expected_level": per_level,
        },
        pass_curve=curve(runs, lambda r: r.assertions["LevelExact"]),
        failures=failures,
    )


async def run(ctx: EvalContext) -> SuiteResult:
    """Run every conversation of ``evals/datasets/escalation.jsonl`` through the runtime."""
    from graphs.runtime import ThreadBusyError

    timer = Timer()
    cases = load_cases(dataset_path("escalation"), EscalationCase, limit=ctx.limit)

    async def task(case: EscalationCase) -> EscalationOutcome:
        thread = f"eval-esc-{case.id}-{uuid.uuid4().hex[:8]}"
        levels: list[int] = []
        reasons: tuple[str, ...] = ()
        for text in case.turns:
            try:
                turn = await ctx.runtime.ask(text, thread_id=thread)
            except ThreadBusyError:  # an earlier turn is waiting for a person
                return EscalationOutcome(4, reasons, tuple(levels))
            levels.append(turn.level)
            reasons = tuple(turn.reasons)
        return EscalationOutcome(levels[-1], reasons, tuple(levels))

    pe_cases = [
        Case(name=c.id, inputs=c, expected_output=c.expected_level, metadata={"tags": list(c.tags)})
        for c in cases
    ]
    runs = await evaluate(ctx, NAME, pe_cases, task, [LevelExact(), ReasonFound()])
    result = score(runs)
    result.seconds = timer.seconds
    return result
