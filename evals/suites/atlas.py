"""Atlas: retrieval on documents the team did not write (issue 14; ``evals/datasets/atlas``).

System under test: :class:`~knowledge.retriever.Retriever` with the product's defaults, over
the four seed documents (``../shared/seeds``) and the starter corpus, ingested by this suite
with the shipped chunker defaults into their own collection (``atlas-eval``) of the run's fresh
scratch database. Definitions of the figures: :mod:`evals.atlas_measure`.

Gate keys (``[atlas]`` in ``evals/thresholds.toml``) are the **test** split's figures:
``hit_at_5``, ``paraphrase_hit_at_5``, ``multi_hop_hit_at_5``, ``mrr``, ``recall_at_5``,
``section_at_5``; the same figures on dev carry a ``dev_`` prefix. Per corpus, per seed
document and per type tables are in ``details``. Failures are listed for **dev only**: the test
split is reported as figures, so reading a report never tunes on it.

Fails (raises) when ``../shared/seeds`` is missing — no silent skip.
"""

from __future__ import annotations

from evals.atlas_data import load_split
from evals.atlas_measure import breakdown, ingest_corpora, measure
from evals.suites.base import CaseFailure, EvalContext, SuiteResult, Timer

NAME = "atlas"
HEADLINE = ("hit_at_5", "mrr", "recall_at_5", "section_at_5", "hit_at_10")


async def run(ctx: EvalContext) -> SuiteResult:
    """Ingest both corpora, retrieve for every dev and test question, score."""
    from knowledge.retriever import Retriever
    from knowledge.store.pgvector import PgVectorStore

    timer = Timer()
    await ingest_corpora(ctx.db, ctx.embedder)
    retriever = Retriever(PgVectorStore(ctx.db), ctx.embedder)
    metrics: dict[str, float] = {}
    details: dict[str, object] = {}
    failures: list[CaseFailure] = []
    cases = 0
    for split in ("dev", "test"):
        questions = load_split(split, limit=ctx.limit)
        cases += len(questions)
        outcomes = await measure(retriever, questions, concurrency=ctx.concurrency)
        table = breakdown(outcomes)
        details[split] = table
        prefix = "" if split == "test" else "dev_"
        for key in HEADLINE:
            metrics[f"{prefix}{key}"] = table["all"][key]
        for qtype in ("exact", "paraphrase", "multi_hop"):
            if f"type:{qtype}" in table:
                metrics[f"{prefix}{qtype}_hit_at_5"] = table[f"type:{qtype}"]["hit_at_5"]
        if "type:unanswerable" in table:
            metrics[f"{prefix}abstention"] = table["type:unanswerable"]["abstention"]
        metrics[f"{prefix}false_abstention"] = table["all"].get("false_abstention", 0.0)
        if split == "dev":
            failures = [
                CaseFailure(
                    id=o.question.id,
                    tags=[o.question.type, o.question.corpus],
                    expected=" | ".join(" > ".join(r.path[1:]) for r in o.question.sections)
                    + f" ({'; '.join(o.question.facts)})",
                    got=", ".join(o.top) or "nothing",
                    detail=o.question.question,
                )
                for o in outcomes
                if o.question.answerable and not o.hit(5)
            ]
    return SuiteResult(
        suite=NAME,
        cases=cases,
        metrics=metrics,
        details=details,
        failures=failures,
        seconds=timer.seconds,
    )
