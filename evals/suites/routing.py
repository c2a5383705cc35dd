"""Routing: does each message reach the right persona?

Offline the system under test is the runtime's first-stage triage
(:class:`graphs.triage.decide.Triage`: the same object the supervisor uses); with a provider
configured it is the whole triage of a real turn (``GraceRuntime.ask``), where low-confidence
and multi-intent turns go to the LLM router.

Figures: ``accuracy`` (lenient: ``expected`` or an ``acceptable`` alternate), ``strict_accuracy``
(``expected`` only), ``macro_f1`` over the eight personas (lenient: a prediction that is an
acceptable alternate counts as that label) with per-persona precision/recall/F1, the 8x8
confusion matrix (rows: truth, columns: prediction) and the multi-intent detection rate on
messages tagged ``multi-intent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_evals import Case
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from evals.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class
from evals.schemas import RoutingCase, dataset_path, load_cases
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
from graphs.workflows.model import PERSONAS

NAME = "routing"


@dataclass(frozen=True)
class RoutePrediction:
    """What the system decided for one message."""

    persona: str
    confidence: float
    multi_intent: bool


@dataclass
class PersonaMatch(Evaluator[RoutingCase, RoutePrediction, Any]):
    """The predicted persona is ``expected`` or one of its acceptable alternates."""

    def evaluate(self, ctx: EvaluatorContext[RoutingCase, RoutePrediction, Any]) -> bool:
        """Judge one run of one case."""
        case, got = ctx.inputs, ctx.output.persona
        return got == case.expected or got in case.acceptable


@dataclass
class StrictPersonaMatch(Evaluator[RoutingCase, RoutePrediction, Any]):
    """The predicted persona is exactly ``expected``."""

    def evaluate(self, ctx: EvaluatorContext[RoutingCase, RoutePrediction, Any]) -> bool:
        """Judge one run of one case."""
        return ctx.output.persona == ctx.inputs.expected


def lenient_truth(case: RoutingCase, predicted: str) -> str:
    """The label a prediction is scored against: itself when acceptable, else ``expected``."""
    return predicted if predicted in case.acceptable else case.expected


def score(runs: list[Evaluated[RoutingCase, RoutePrediction]]) -> SuiteResult:
    """Suite figures from evaluated runs (figures over run 1, pass^k over all runs)."""
    first = first_runs(runs)
    truth = [lenient_truth(r.inputs, r.output.persona) for r in first]
    pred = [r.output.persona for r in first]
    strict_truth = [r.inputs.expected for r in first]
    matrix = confusion_matrix(truth, pred, PERSONAS)
    multi = [r for r in first if "multi-intent" in r.inputs.tags]
    metrics = {
        "accuracy": round(accuracy([r.assertions["PersonaMatch"] for r in first]), 4),
        "strict_accuracy": round(accuracy([r.assertions["StrictPersonaMatch"] for r in first]), 4),
        "macro_f1": round(macro_f1(matrix, PERSONAS), 4),
        "strict_macro_f1": round(
            macro_f1(confusion_matrix(strict_truth, pred, PERSONAS), PERSONAS), 4
        ),
        "multi_intent_detected": rate(sum(r.output.multi_intent for r in multi), len(multi)),
    }
    classes = {
        p: {
            "precision": round(s.precision, 4),
            "recall": round(s.recall, 4),
            "f1": round(s.f1, 4),
            "support": s.support,
        }
        for p, s in per_class(matrix, PERSONAS).items()
    }
    failures = [
        CaseFailure(
            id=r.case_id,
            tags=list(r.inputs.tags),
            expected=r.inputs.expected
            + (f" (or {', '.join(r.inputs.acceptable)})" if r.inputs.acceptable else ""),
            got=f"{r.output.persona} ({r.output.confidence:.2f})",
            detail=r.inputs.message,
            runs_failed=failed_runs(runs, r.case_id, "PersonaMatch"),
        )
        for r in first
        if not r.assertions["PersonaMatch"]
    ]
    return SuiteResult(
        suite=NAME,
        cases=len(first),
        k=repeats(runs),
        metrics=metrics,
        details={"labels": list(PERSONAS), "confusion_matrix": matrix, "per_class": classes},
        pass_curve=curve(runs, lambda r: r.assertions["PersonaMatch"]),
        failures=failures,
    )


async def run(ctx: EvalContext) -> SuiteResult:
    """Route every message of ``evals/datasets/routing.jsonl``."""
    timer = Timer()
    cases = load_cases(dataset_path("routing"), RoutingCase, limit=ctx.limit)
    router = ctx.runtime.deps.router

    async def task(case: RoutingCase) -> RoutePrediction:
        if ctx.model is None:
            d = router.route(case.message)
            return RoutePrediction(d.persona, float(d.confidence), bool(d.multi_intent))
        turn = await ctx.runtime.ask(case.message)
        route = turn.route
        return RoutePrediction(
            str(route.get("persona")),
            float(route.get("confidence", 0.0)),
            bool(route.get("multi_intent")),
        )

    pe_cases = [
        Case(name=c.id, inputs=c, expected_output=c.expected, metadata={"tags": list(c.tags)})
        for c in cases
    ]
    runs = await evaluate(
        ctx,
        NAME,
        pe_cases,
        task,
        [PersonaMatch(), StrictPersonaMatch()],
        concurrency=1 if ctx.model is None else ctx.concurrency,
    )
    result = score(runs)
    result.seconds = timer.seconds
    return result
