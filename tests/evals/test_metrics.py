"""Metric functions against figures computed by hand."""

from __future__ import annotations

import math

import pytest

from evals.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class
from evals.metrics.passk import pass_curve, pass_hat_k
from evals.metrics.retrieval import ndcg_at_k, recall_at_k, reciprocal_rank

LABELS = ("a", "b", "c")


def test_confusion_matrix_and_macro_f1_by_hand() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    m = confusion_matrix(truth, pred, LABELS)
    assert m == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    scores = per_class(m, LABELS)
    # a: P=2/2, R=2/3 -> F1=0.8; b: P=1/2, R=1/2 -> 0.5; c: P=1/2, R=1 -> 2/3
    assert scores["a"].f1 == pytest.approx(0.8)
    assert scores["b"].f1 == pytest.approx(0.5)
    assert scores["c"].f1 == pytest.approx(2 / 3)
    assert scores["a"].support == 3
    assert macro_f1(m, LABELS) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_macro_f1_counts_a_never_predicted_label_as_zero() -> None:
    m = confusion_matrix(["a", "b"], ["a", "a"], LABELS)
    # a: P=1/2, R=1 -> 2/3; b: 0; c: no support, never predicted -> 0
    assert macro_f1(m, LABELS) == pytest.approx((2 / 3) / 3)


def test_confusion_matrix_rejects_unknown_labels_and_length_mismatch() -> None:
    with pytest.raises(ValueError, match="not in labels"):
        confusion_matrix(["a"], ["z"], LABELS)
    with pytest.raises(ValueError, match="length"):
        confusion_matrix(["a"], [], LABELS)


def test_accuracy() -> None:
    assert accuracy([True, False, True, True]) == 0.75
    assert accuracy([]) == 0.0


def test_pass_hat_k_is_tau_bench_estimator() -> None:
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(3, 4, 4) == 0.0  # one failure: never passes^4
    assert pass_hat_k(3, 4, 1) == 0.75
    assert pass_hat_k(3, 4, 2) == pytest.approx(math.comb(3, 2) / math.comb(4, 2))
    with pytest.raises(ValueError):
        pass_hat_k(1, 4, 5)
    with pytest.raises(ValueError):
        pass_hat_k(5, 4, 1)


def test_pass_curve_falls_when_a_task_is_flaky() -> None:
    curve = pass_curve({"t1": [True, True, True], "t2": [True, False, True]})
    assert curve[1] == pytest.approx((1 + 2 / 3) / 2)
    assert curve[2] == pytest.approx((1 + 1 / 3) / 2)
    assert curve[3] == pytest.approx(0.5)
    assert pass_curve({}) == {}
    with pytest.raises(ValueError):
        pass_curve({"t1": [True], "t2": [True, True]})


def test_ranking_metrics() -> None:
    rel = [False, True, False, True]
    assert recall_at_k(rel, 1) == 0.0
    assert recall_at_k(rel, 2) == 1.0
    assert reciprocal_rank(rel) == 0.5
    # DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k([float(r) for r in rel], 10) == pytest.approx(expected)
    assert ndcg_at_k([0.0, 0.0], 10) == 0.0
