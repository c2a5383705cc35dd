"""Ranking metrics for retrieval: recall@k, reciprocal rank, nDCG@k.

Each takes the ranked list of relevance judgements of one query (``True``/``1`` = relevant);
averaging over queries gives the suite figure (mean recall@k, MRR, mean nDCG@k).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def recall_at_k(relevant: Sequence[bool], k: int, total_relevant: int = 1) -> float:
    """Share of the relevant items found in the top ``k``.

    With one relevant item per question (our datasets) this is the hit rate at ``k``.

    Args:
        relevant: Relevance of each ranked result, best first.
        k: Cut-off.
        total_relevant: How many relevant items exist for the query (>= 1).
    """
    if total_relevant <= 0:
        raise ValueError("total_relevant must be >= 1")
    return min(sum(1 for r in relevant[:k] if r), total_relevant) / total_relevant


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    """``1 / rank`` of the first relevant result, 0 when none is relevant (MRR's summand)."""
    for i, r in enumerate(relevant, start=1):
        if r:
            return 1.0 / i
    return 0.0


def ndcg_at_k(gains: Sequence[float], k: int, ideal: Sequence[float] | None = None) -> float:
    """Normalised discounted cumulative gain at ``k`` (Järvelin & Kekäläinen, 2002).

    ``DCG = sum(gain_i / log2(i + 1))`` over ranks ``i = 1..k``; divided by the DCG of the ideal
    ordering (``ideal`` gains, or ``gains`` sorted descending). 0 when the ideal DCG is 0.
    """

    def dcg(values: Sequence[float]) -> float:
        return sum(g / math.log2(i + 1) for i, g in enumerate(values[:k], start=1))

    best = dcg(sorted(ideal if ideal is not None else gains, reverse=True))
    return dcg(gains) / best if best > 0 else 0.0


def facts_rank(texts: Sequence[str], facts: Sequence[str]) -> int | None:
    """Smallest ``r`` such that the top ``r`` texts together contain every fact, else None.

    Matching lower-cases and collapses whitespace on both sides (the Atlas eval set's rule,
    :func:`evals.atlas_data.normalise`). ``1 / facts_rank`` is the reciprocal rank of a
    question whose answer may need several passages; ``facts_rank <= k`` is its hit@k.

    Args:
        texts: Passage texts, best first.
        facts: Strings that must all appear.
    """
    want = {_norm(f) for f in facts}
    if not want:
        return None
    for r, text in enumerate(texts, start=1):
        t = _norm(text)
        want = {f for f in want if f not in t}
        if not want:
            return r
    return None


def fact_recall_at_k(texts: Sequence[str], facts: Sequence[str], k: int) -> float:
    """Share of ``facts`` found (normalised) in the top ``k`` texts; 0.0 for no facts."""
    if not facts:
        return 0.0
    pool = " \n ".join(_norm(t) for t in texts[:k])
    return sum(_norm(f) in pool for f in facts) / len(facts)


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()
