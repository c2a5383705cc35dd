"""Single-label classification metrics: accuracy, confusion matrix, per-class and macro F1.

Definitions (scikit-learn's, written out so the figures are easy to check by hand):
precision(c) = TP / (TP + FP), recall(c) = TP / (TP + FN), F1 = 2PR / (P + R), 0 when the
denominator is 0; macro-F1 is the unweighted mean of F1 over ``labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall, F1 and support (number of true items) of one label."""

    precision: float
    recall: float
    f1: float
    support: int


def confusion_matrix(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> list[list[int]]:
    """Counts ``m[i][j]`` of items whose true label is ``labels[i]`` and prediction ``labels[j]``.

    Raises:
        ValueError: the sequences differ in length, or a label is not in ``labels``.
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(truth, predicted, strict=True):
        if t not in index or p not in index:
            raise ValueError(f"label {t if t not in index else p!r} not in labels")
        matrix[index[t]][index[p]] += 1
    return matrix


def per_class(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> dict[str, ClassScores]:
    """Precision/recall/F1/support per label from a confusion matrix."""
    out: dict[str, ClassScores] = {}
    for i, label in enumerate(labels):
        tp = matrix[i][i]
        fn = sum(matrix[i]) - tp
        fp = sum(row[i] for row in matrix) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[label] = ClassScores(p, r, f1, tp + fn)
    return out


def macro_f1(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> float:
    """Unweighted mean F1 over ``labels`` (0 for an empty label list)."""
    scores = per_class(matrix, labels)
    return sum(s.f1 for s in scores.values()) / len(labels) if labels else 0.0


def accuracy(correct: Sequence[bool]) -> float:
    """Share of ``True``; 0 for no items."""
    return sum(1 for c in correct if c) / len(correct) if correct else 0.0
