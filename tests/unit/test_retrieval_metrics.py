import pytest

from evals.metrics.retrieval import ndcg_at_k, recall_at_k, reciprocal_rank
from knowledge.retriever import maximal_marginal_relevance, reciprocal_rank_fusion


def test_recall_at_k() -> None:
    assert recall_at_k([False, True, False], k=1) == 0.0
    assert recall_at_k([False, True, False], k=2) == 1.0
    assert recall_at_k([True, True], k=2, total_relevant=4) == 0.5
    with pytest.raises(ValueError):
        recall_at_k([True], k=1, total_relevant=0)


def test_reciprocal_rank() -> None:
    assert reciprocal_rank([False, False, True]) == pytest.approx(1 / 3)
    assert reciprocal_rank([False]) == 0.0


def test_ndcg() -> None:
    assert ndcg_at_k([1, 0, 0], k=3) == 1.0
    assert ndcg_at_k([0, 0, 1], k=3, ideal=[1]) == pytest.approx(0.5)
    assert ndcg_at_k([0, 0], k=2) == 0.0


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]])
    assert max(fused, key=fused.__getitem__) == 1
    assert fused[3] > fused[2] and fused[4] == pytest.approx(1 / 63)


def test_mmr_prefers_diverse_items() -> None:
    import numpy as np

    v = {1: np.array([1.0, 0.0]), 2: np.array([0.99, 0.141]), 3: np.array([0.0, 1.0])}
    rel = {1: 0.9, 2: 0.89, 3: 0.5}
    assert maximal_marginal_relevance([1, 2, 3], v, rel, k=2, lam=0.5) == [1, 3, 2]
    assert maximal_marginal_relevance([1, 2, 3], v, rel, k=2, lam=1.0)[:2] == [1, 2]
