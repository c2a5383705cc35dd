"""Single-label classification metrics: accuracy, confusion matrix, per-class and macro F1.

Computed by :mod:`sklearn.metrics` (``confusion_matrix``, ``precision_recall_fscore_support``
with ``zero_division=0``): precision(c) = TP / (TP + FP), recall(c) = TP / (TP + FN),
F1 = 2PR / (P + R), 0 when the denominator is 0; macro-F1 is the unweighted mean of F1 over
``labels``.
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
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    known = set(labels)
    for item in (*truth, *predicted):
        if item not in known:
            raise ValueError(f"label {item!r} not in labels")
    if not truth:
        return [[0] * len(labels) for _ in labels]
    matrix = sk_confusion_matrix(list(truth), list(predicted), labels=list(labels))
    return [[int(v) for v in row] for row in matrix]


def per_class(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> dict[str, ClassScores]:
    """Precision/recall/F1/support per label from a confusion matrix."""
    import numpy as np
    from sklearn.metrics import precision_recall_fscore_support

    if not labels:
        return {}
    m = np.asarray(matrix, dtype=int).reshape(len(labels), len(labels))
    # Expand the matrix back into (truth, prediction) index pairs for scikit-learn.
    truth = np.repeat(np.arange(len(labels)).repeat(len(labels)), m.ravel())
    pred = np.repeat(np.tile(np.arange(len(labels)), len(labels)), m.ravel())
    p, r, f1, support = precision_recall_fscore_support(
        truth, pred, labels=list(range(len(labels))), zero_division=0
    )
    return {
        label: ClassScores(float(p[i]), float(r[i]), float(f1[i]), int(support[i]))
        for i, label in enumerate(labels)
    }


def macro_f1(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> float:
    """Unweighted mean F1 over ``labels`` (0 for an empty label list)."""
    scores = per_class(matrix, labels)
    return sum(s.f1 for s in scores.values()) / len(labels) if labels else 0.0


def accuracy(correct: Sequence[bool]) -> float:
    """Share of ``True``; 0 for no items."""
    return sum(1 for c in correct if c) / len(correct) if correct else 0.0
