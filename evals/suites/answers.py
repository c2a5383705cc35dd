"""Answers: Atlas's replies are faithful to what it retrieved and contain the expected facts.

Each question of ``retrieval.jsonl`` is asked to Atlas (``persona="atlas"``) through the real
runtime; the passages behind the reply are the turn's citations, read back from ``kb_chunks``.

Figures: ``citation_coverage`` (claims carrying a citation that resolves to a retrieved passage /
all claims), ``supported_rate`` (claims backed by the cited passage's words / all claims),
``faithful_rate`` (replies whose every claim is cited and supported), ``fact_recall`` (expected
facts found in the reply, mean over answerable questions), ``all_facts_rate``, ``answered_rate``
(answerable questions not answered with "I don't know") and ``abstention_accuracy``
(unanswerable questions answered with "I don't know"). With a provider configured the LLM judge
adds ``judge_faithful_rate``; the claim checks assume the offline reply format and are reported
for both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic_evals import Case
from pydantic_evals.evaluators import Evaluator, EvaluatorContext

from evals.faithfulness import Faithfulness, Source, check, facts_found
from evals.judge import JudgeError, judge_faithfulness
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

NAME = "answers"


@dataclass
class Answer:
    """One reply and its checks."""

    reply: str
    verdict: Faithfulness
    facts: list[bool] = field(default_factory=list)
    judge_faithful: bool | None = None
    judge_note: str = ""


@dataclass
class AnswerOk(Evaluator[RetrievalCase, Answer, Any]):
    """Answerable: faithful, not abstained, every fact found. Unanswerable: abstained."""

    def evaluate(self, ctx: EvaluatorContext[RetrievalCase, Answer, Any]) -> bool:
        """Judge one run of one case."""
        out = ctx.output
        if not ctx.inputs.answerable:
            return out.verdict.abstained
        return out.verdict.faithful and not out.verdict.abstained and all(out.facts)


async def chunk_sources(ctx: EvalContext, citations: list[dict[str, Any]]) -> list[Source]:
    """The retrieved passages behind a turn's citations (text read from ``kb_chunks``)."""
    ids = [int(c["chunk_id"]) for c in citations if c.get("chunk_id") is not None]
    if not ids:
        return []
    async with ctx.db.connection() as conn:
        rows = await (
            await conn.execute(
                "SELECT id, source, section, text, heading_path FROM kb_chunks WHERE id = ANY(%s)",
                (ids,),
            )
        ).fetchall()
    return [
        Source(source=r[1], section=r[2], text=r[3], heading_path=tuple(r[4] or ())) for r in rows
    ]


def score(runs: list[Evaluated[RetrievalCase, Answer]]) -> SuiteResult:
    """Suite figures from evaluated runs."""
    first = first_runs(runs)
    ans = [r for r in first if r.inputs.answerable]
    una = [r for r in first if not r.inputs.answerable]
    claims = sum(r.output.verdict.claims for r in first)
    facts = [f for r in ans for f in r.output.facts]
    metrics = {
        "citation_coverage": rate(sum(r.output.verdict.cited for r in first), claims),
        "supported_rate": rate(sum(r.output.verdict.supported for r in first), claims),
        "faithful_rate": rate(sum(r.output.verdict.faithful for r in first), len(first)),
        "fact_recall": rate(sum(facts), len(facts)),
        "all_facts_rate": rate(sum(all(r.output.facts) for r in ans), len(ans)),
        "answered_rate": rate(sum(not r.output.verdict.abstained for r in ans), len(ans)),
        "abstention_accuracy": rate(sum(r.output.verdict.abstained for r in una), len(una)),
    }
    judged = [r for r in first if r.output.judge_faithful is not None]
    if judged:
        metrics["judge_faithful_rate"] = rate(
            sum(bool(r.output.judge_faithful) for r in judged), len(judged)
        )
    failures = []
    for r in first:
        if r.assertions["AnswerOk"]:
            continue
        v = r.output.verdict
        problems = []
        if r.inputs.answerable:
            missing = [f for f, ok in zip(r.inputs.facts, r.output.facts, strict=True) if not ok]
            if v.abstained:
                problems.append("answered 'I don't know'")
            if missing:
                problems.append(f"missing facts: {missing}")
            if v.uncited:
                problems.append(f"{len(v.uncited)} uncited: {v.uncited[0][:160]}")
            if v.unsupported:
                problems.append(f"{len(v.unsupported)} unsupported: {v.unsupported[0][:80]}")
        else:
            problems.append("answered an unanswerable question")
        failures.append(
            CaseFailure(
                id=r.case_id,
                tags=list(r.inputs.tags),
                expected=", ".join(r.inputs.facts) if r.inputs.answerable else "I don't know",
                got="; ".join(problems),
                detail=f"{r.inputs.question} → reply: {_excerpt(r.output.reply)}",
                runs_failed=failed_runs(runs, r.case_id, "AnswerOk"),
            )
        )
    return SuiteResult(
        suite=NAME,
        cases=len(first),
        k=repeats(runs),
        metrics=metrics,
        details={"claims": claims, "answerable": len(ans), "unanswerable": len(una)},
        pass_curve=curve(runs, lambda r: r.assertions["AnswerOk"]),
        failures=failures,
    )


def _excerpt(reply: str, limit: int = 300) -> str:
    """The reply without the offline label and source list, shortened."""
    body = reply.split("\n\nSources:")[0]
    lines = [ln for ln in body.splitlines() if ln.strip() and not ln.startswith("_(offline")]
    text = " ".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def run(ctx: EvalContext) -> SuiteResult:
    """Ask Atlas every question of ``evals/datasets/retrieval.jsonl``."""
    timer = Timer()
    cases = load_cases(dataset_path("retrieval"), RetrievalCase, limit=ctx.limit)

    async def task(case: RetrievalCase) -> Answer:
        thread = f"eval-ans-{case.id}-{uuid.uuid4().hex[:8]}"
        turn = await ctx.runtime.ask(case.question, thread_id=thread, persona="atlas")
        sources = await chunk_sources(ctx, turn.citations)
        out = Answer(
            reply=turn.reply,
            verdict=check(turn.reply, sources),
            facts=facts_found(turn.reply, case.facts),
        )
        if ctx.judge is not None:
            try:
                verdict = await judge_faithfulness(ctx.judge, case.question, turn.reply, sources)
                out.judge_faithful = verdict.faithful
                out.judge_note = "; ".join(verdict.unsupported_claims)
            except JudgeError as exc:
                out.judge_note = str(exc)
        return out

    pe_cases = [Case(name=c.id, inputs=c, metadata={"tags": list(c.tags)}) for c in cases]
    runs = await evaluate(ctx, NAME, pe_cases, task, [AnswerOk()])
    result = score(runs)
    result.seconds = timer.seconds
    return result
