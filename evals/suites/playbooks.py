"""Playbook suggestions: does the best-ranked playbook fit the context?

The system under test is :class:`~graphs.playbooks.suggest.PlaybookSuggester` on the run's
embedder (all-MiniLM-L6-v2, the vectors the local ONNX encoder also gives) with no run history,
so the ranking is similarity alone. The labelled contexts in ``evals/datasets/playbooks.jsonl``
are written for this suite and share no sentence with the playbooks' own examples.

Figures: ``accuracy`` (top-1 is ``expected``), ``top3_accuracy`` and ``mrr`` over the five
built-in playbooks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from pydantic_evals import Case
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from evals.schemas import EvalCase, dataset_path, load_cases
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
)  # fmt: skip
from graphs.playbooks.suggest import PlaybookSuggester

NAME = "playbooks"


class PlaybookCase(EvalCase):
    """A context (a request, optionally with recent messages) and the playbook that fits."""

    context: str = Field(min_length=1)
    expected: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    recent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranked:
    """The suggester's ranking, best first, with the top score."""

    ids: tuple[str, ...]
    top_score: float


@dataclass
class TopMatch(Evaluator[PlaybookCase, Ranked, Any]):
    """The best-ranked playbook is ``expected``."""

    def evaluate(self, ctx: EvaluatorContext[PlaybookCase, Ranked, Any]) -> bool:
        """Judge one run of one case."""
        return ctx.output.ids[0] == ctx.inputs.expected


@dataclass
class Top3Match(Evaluator[PlaybookCase, Ranked, Any]):
    """``expected`` is among the three best."""

    def evaluate(self, ctx: EvaluatorContext[PlaybookCase, Ranked, Any]) -> bool:
        """Judge one run of one case."""
        return ctx.inputs.expected in ctx.output.ids[:3]


def score(runs: list[Evaluated[PlaybookCase, Ranked]]) -> SuiteResult:
    """Suite figures from evaluated runs."""
    first = first_runs(runs)
    rr = [1 / (r.output.ids.index(r.inputs.expected) + 1) if r.inputs.expected in r.output.ids
          else 0.0 for r in first]  # fmt: skip
    metrics = {
        "accuracy": rate(sum(r.assertions["TopMatch"] for r in first), len(first)),
        "top3_accuracy": rate(sum(r.assertions["Top3Match"] for r in first), len(first)),
        "mrr": round(sum(rr) / len(rr), 4) if rr else 0.0,
    }
    failures = [
        CaseFailure(id=r.case_id, tags=list(r.inputs.tags), expected=r.inputs.expected,
                    got=f"{r.output.ids[0]} ({r.output.top_score:.2f})", detail=r.inputs.context,
                    runs_failed=failed_runs(runs, r.case_id, "TopMatch"))
        for r in first if not r.assertions["TopMatch"]
    ]  # fmt: skip
    return SuiteResult(suite=NAME, cases=len(first), k=repeats(runs), metrics=metrics,
                       pass_curve=curve(runs, lambda r: r.assertions["TopMatch"]),
                       failures=failures)  # fmt: skip


async def run(ctx: EvalContext) -> SuiteResult:
    """Rank the playbooks for every context of ``evals/datasets/playbooks.jsonl``."""
    timer = Timer()
    cases = load_cases(dataset_path(NAME), PlaybookCase, limit=ctx.limit)
    suggester = await asyncio.to_thread(PlaybookSuggester, ctx.embedder)

    async def task(case: PlaybookCase) -> Ranked:
        ranked = suggester.rank(case.context, recent=case.recent, k=5)
        return Ranked(tuple(s.playbook for s in ranked), ranked[0].score)

    pe_cases = [Case(name=c.id, inputs=c, expected_output=c.expected) for c in cases]
    runs = await evaluate(ctx, NAME, pe_cases, task, [TopMatch(), Top3Match()], concurrency=1)
    result = score(runs)
    result.seconds = timer.seconds
    return result
