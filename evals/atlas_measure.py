"""Measure Atlas's retriever on the Atlas eval set (``evals/atlas_data.py``).

Used by the ``atlas`` suite (``grace eval run atlas``) and by the chunker comparison
(``python -m evals.atlas_chunkers``). Both corpora — the four seed documents and the starter
corpus — are ingested into one collection of a fresh scratch database with the chosen chunker
options; every question is retrieved with no similarity threshold (ranking figures) and once
with the product's defaults (abstention).

Per question (answerable):

* ``hit@k``: every fact occurs (case/whitespace normalised) in the top ``k`` passages together;
* reciprocal rank: ``1 / r`` for the smallest such ``r`` within the top 10, else 0 (MRR);
* ``recall@k``: share of the question's facts found in the top ``k``;
* ``section@5``: a top-5 passage carries one of the expected heading paths exactly (the
  citation is right, not just the words).

``abstained``: the default retrieval (the answerability decision of
:mod:`knowledge.answerability`) returns nothing; ``abstention`` over unanswerable questions,
``false_abstention`` over answerable ones.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evals.atlas_data import QUESTION_TYPES, AtlasQuestion, corpus_root
from evals.metrics.retrieval import fact_recall_at_k, facts_rank

RANK_DEPTH = 10
ATLAS_COLLECTION = "atlas-eval"


@dataclass(frozen=True)
class Outcome:
    """What the retriever did for one question.

    Attributes:
        question: The question.
        rank: Smallest ``r`` with every fact in the top ``r`` (None: not within the top 10).
        recall5: Share of facts in the top 5.
        section5: An expected heading path among the top 5.
        abstained: The default retrieval returned nothing.
        top: ``document § section`` of the top 3 (for failure listings).
    """

    question: AtlasQuestion
    rank: int | None
    recall5: float
    recall10: float
    section5: bool
    abstained: bool
    top: tuple[str, ...]

    def hit(self, k: int) -> bool:
        """All facts in the top ``k``."""
        return self.rank is not None and self.rank <= k


async def ingest_corpora(
    db: Any,
    embedder: Any,
    *,
    collection: str = ATLAS_COLLECTION,
    chunker: str | None = None,
    chunk_size: int | None = None,
    chunk_overlap: int | None = None,
) -> int:
    """Ingest the seeds and the starter corpus into ``collection``; returns files ingested.

    ``None`` options keep :class:`knowledge.ingest.IngestOptions`' defaults (the product's).

    Raises:
        evals.atlas_data.SeedsMissingError: ``../shared/seeds`` is missing.
        RuntimeError: a file failed to ingest.
    """
    from knowledge.ingest import IngestOptions, Ingestor

    overrides = {
        k: v
        for k, v in (
            ("chunker", chunker),
            ("chunk_size", chunk_size),
            ("chunk_overlap", chunk_overlap),
        )
        if v is not None
    }
    options = IngestOptions(collection=collection, operator="eval", **overrides)  # type: ignore[arg-type]
    paths = [corpus_root("seeds"), corpus_root("starter")]
    job = await Ingestor(db, embedder).ingest(paths, options)
    if job.files_failed:
        raise RuntimeError(f"{job.files_failed} file(s) failed to ingest")
    return int(job.files_done)


def _matches(ref_doc: str, source: str) -> bool:
    return source.replace("\\", "/").endswith("/" + ref_doc)


async def measure(
    retriever: Any,
    questions: Sequence[AtlasQuestion],
    *,
    collection: str = ATLAS_COLLECTION,
    concurrency: int = 4,
) -> list[Outcome]:
    """Retrieve for every question (see the module docstring for what is recorded)."""
    from knowledge.store.base import SearchFilters

    filters = SearchFilters(collections=(collection,))
    gate = asyncio.Semaphore(concurrency)

    async def one(q: AtlasQuestion) -> Outcome:
        async with gate:
            ranked = await retriever.retrieve(
                q.question, k=RANK_DEPTH, threshold=-1.0, filters=filters
            )
            served = await retriever.retrieve(q.question, filters=filters)
        texts = [p.text for p in ranked]
        section5 = any(
            tuple(p.heading_path) == ref.path and _matches(ref.document, p.citation.source)
            for p in ranked[:5]
            for ref in q.sections
        )
        return Outcome(
            question=q,
            rank=facts_rank(texts, q.facts) if q.answerable else None,
            recall5=fact_recall_at_k(texts, q.facts, 5),
            recall10=fact_recall_at_k(texts, q.facts, RANK_DEPTH),
            section5=section5,
            abstained=not served,
            top=tuple(
                f"{p.citation.source.rsplit('/', 1)[-1]} § {' > '.join(p.heading_path[1:]) or '-'}"
                for p in ranked[:3]
            ),
        )

    return list(await asyncio.gather(*(one(q) for q in questions)))


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def figures(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Figures of a set of outcomes: hit@1/5/10, MRR, recall@5/10, section@5, abstention."""
    ans = [o for o in outcomes if o.question.answerable]
    una = [o for o in outcomes if not o.question.answerable]
    out = {
        "hit_at_1": _mean([o.hit(1) for o in ans]),
        "hit_at_5": _mean([o.hit(5) for o in ans]),
        "hit_at_10": _mean([o.hit(10) for o in ans]),
        "mrr": _mean([1.0 / o.rank if o.rank else 0.0 for o in ans]),
        "recall_at_5": _mean([o.recall5 for o in ans]),
        "recall_at_10": _mean([o.recall10 for o in ans]),
        "section_at_5": _mean([o.section5 for o in ans]),
        "answerable": float(len(ans)),
    }
    if una:
        out["abstention"] = _mean([o.abstained for o in una])
        out["unanswerable"] = float(len(una))
    if ans:
        out["false_abstention"] = _mean([o.abstained for o in ans])
    return out


def breakdown(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """:func:`figures` overall, per question type and per corpus (and seed document)."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        q = o.question
        groups["all"].append(o)
        groups[f"type:{q.type}"].append(o)
        groups[f"corpus:{q.corpus}"].append(o)
        if q.document and q.corpus == "seeds":
            groups[f"document:{q.document}"].append(o)
    order = ["all", *(f"type:{t}" for t in QUESTION_TYPES)]
    keys = order + sorted(k for k in groups if k not in order)
    return {k: figures(groups[k]) for k in keys if k in groups}
