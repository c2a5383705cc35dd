"""Retrieval: does Atlas's retriever find the passage that answers, and stay silent otherwise?

System under test: the runtime's :class:`~knowledge.retriever.Retriever` on the starter corpus
(ingested by the runner with the shipped defaults).

A passage is relevant when it comes from ``expected_source`` and either sits under
``expected_section`` or contains every expected fact (the rule of
``tests/integration/test_retrieval_quality.py``). Ranking figures use the top 10 with no
similarity threshold; abstention uses the retriever's default threshold (the product's
behaviour: nothing above it → Atlas says it does not know).

Figures (answerable questions): ``recall_at_1/5/10`` (hit rate: one relevant passage per
question is enough), ``mrr``, ``ndcg_at_10`` (binary gains; ideal = the relevant passages found
ranked first), ``false_abstention_rate``; (unanswerable) ``abstention_accuracy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_evals import Case
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from evals.metrics.retrieval import ndcg_at_k, recall_at_k, reciprocal_rank
from evals.schemas import RetrievalCase, dataset_path, load_cases
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

NAME = "retrieval"
RANK_DEPTH = 10


@dataclass(frozen=True)
class Ranked:
    """Relevance of the ranked passages and whether the default retrieval abstained."""

    relevant: tuple[bool, ...]
    abstained: bool
    top: tuple[str, ...] = ()


def is_relevant(case: RetrievalCase, source: str, heading_path: tuple[str, ...], text: str) -> bool:
    """Relevance rule (see the module docstring)."""
    if not case.expected_source or not source.endswith(case.expected_source):
        return False
    if case.expected_section and case.expected_section in heading_path:
        return True
    low = text.lower()
    return all(f.lower() in low for f in case.facts)


@dataclass
class RetrievalOk(Evaluator[RetrievalCase, Ranked, Any]):
    """Answerable: a relevant passage in the top 5. Unanswerable: nothing returned."""

    def evaluate(self, ctx: EvaluatorContext[RetrievalCase, Ranked, Any]) -> bool:
        """Judge one run of one case."""
        if ctx.inputs.answerable:
            return recall_at_k(ctx.output.relevant, 5) > 0
        return ctx.output.abstained


def score(runs: list[Evaluated[RetrievalCase, Ranked]]) -> SuiteResult:
    """Suite figures from evaluated runs."""
    first = first_runs(runs)
    ans = [r for r in first if r.inputs.answerable]
    una = [r for r in first if not r.inputs.answerable]

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    rel = [list(r.output.relevant) for r in ans]
    metrics = {
        "recall_at_1": mean([recall_at_k(x, 1) for x in rel]),
        "recall_at_5": mean([recall_at_k(x, 5) for x in rel]),
        "recall_at_10": mean([recall_at_k(x, 10) for x in rel]),
        "mrr": mean([reciprocal_rank(x) for x in rel]),
        "ndcg_at_10": mean([ndcg_at_k([float(v) for v in x], RANK_DEPTH) for x in rel]),
        "abstention_accuracy": rate(sum(r.output.abstained for r in una), len(una)),
        "false_abstention_rate": rate(sum(r.output.abstained for r in ans), len(ans)),
    }
    failures = [
        CaseFailure(
            id=r.case_id,
            tags=list(r.inputs.tags),
            expected=(
                f"{r.inputs.expected_source} § {r.inputs.expected_section}"
                if r.inputs.answerable
                else "nothing (unanswerable)"
            ),
            got=(", ".join(r.output.top[:3]) or "nothing")
            + (" [abstained]" if r.output.abstained and r.inputs.answerable else ""),
            detail=r.inputs.question,
            runs_failed=failed_runs(runs, r.case_id, "RetrievalOk"),
        )
        for r in first
        if not r.assertions["RetrievalOk"]
    ]
    return SuiteResult(
        suite=NAME,
        cases=len(first),
        k=repeats(runs),
        metrics=metrics,
        details={"answerable": len(ans), "unanswerable": len(una)},
        pass_curve=curve(runs, lambda r: r.assertions["RetrievalOk"]),
        failures=failures,
    )


async def run(ctx: EvalContext) -> SuiteResult:
    """Retrieve for every question of ``evals/datasets/retrieval.jsonl``."""
    timer = Timer()
    cases = load_cases(dataset_path("retrieval"), RetrievalCase, limit=ctx.limit)
    retriever = ctx.runtime.deps.retriever
    if retriever is None:
        raise RuntimeError("the runtime has no knowledge base")

    async def task(case: RetrievalCase) -> Ranked:
        ranked = await retriever.retrieve(case.question, k=RANK_DEPTH, threshold=-1.0)
        served = await retriever.retrieve(case.question)
        return Ranked(
            relevant=tuple(
                is_relevant(case, p.citation.source, p.heading_path, p.text) for p in ranked
            ),
            abstained=not served,
            top=tuple(
                f"{p.citation.source.rsplit('/', 2)[-2:][-1]} § {p.citation.section or '-'}"
                for p in ranked[:3]
            ),
        )

    pe_cases = [Case(name=c.id, inputs=c, metadata={"tags": list(c.tags)}) for c in cases]
    runs = await evaluate(ctx, NAME, pe_cases, task, [RetrievalOk()])
    result = score(runs)
    result.seconds = timer.seconds
    return result
