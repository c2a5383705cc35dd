"""Calibration of predicted probabilities: expected calibration error and a reliability table.

ECE (Naeini et al., AAAI 2015; Guo et al., ICML 2017): predictions are binned by confidence
into ``bins`` equal-width bins; ECE = sum over bins of (bin size / n) * |accuracy - mean
confidence|. The reliability table is scikit-learn's ``calibration_curve`` (uniform bins)
plus each bin's count, the data of a reliability diagram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def bin_index(confidence: np.ndarray, bins: int) -> np.ndarray:
    """Uniform-bin index of each confidence, exactly as ``calibration_curve`` bins them.

    A value on an inner edge belongs to the lower bin (``np.searchsorted`` on the inner edges).
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.searchsorted(edges[1:-1], confidence)


def expected_calibration_error(
    confidence: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> float:
    """ECE in [0, 1] of ``confidence`` (probabilities) against ``correct`` outcomes.

    Raises:
        ValueError: the sequences differ in length or ``bins`` < 1.
    """
    if len(confidence) != len(correct):
        raise ValueError("confidence and correct differ in length")
    if bins < 1:
        raise ValueError("bins must be >= 1")
    if not confidence:
        return 0.0
    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    hit = np.asarray(correct, dtype=np.float64)
    index = bin_index(conf, bins)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.mean() * abs(hit[mask].mean() - conf[mask].mean())
    return round(float(total), 4)


def reliability_table(
    confidence: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> list[dict[str, Any]]:
    """Rows ``{bin, count, mean_confidence, accuracy}`` for the non-empty uniform bins.

    ``mean_confidence`` and ``accuracy`` are ``calibration_curve``'s ``prob_pred`` and
    ``prob_true``; a calibrated model has them close in every row.
    """
    if not confidence:
        return []
    from sklearn.calibration import calibration_curve

    conf = np.clip(np.asarray(confidence, dtype=np.float64), 0.0, 1.0)
    hit = np.asarray(correct, dtype=int)
    if hit.min() == hit.max():  # calibration_curve needs both outcomes
        return [
            {
                "bin": "all",
                "count": len(conf),
                "mean_confidence": round(float(conf.mean()), 4),
                "accuracy": float(hit[0]),
            }
        ]
    prob_true, prob_pred = calibration_curve(hit, conf, n_bins=bins, strategy="uniform")
    index = bin_index(conf, bins)
    counts = [int(c) for c in np.bincount(index, minlength=bins) if c]
    edges = [f"{b / bins:.1f}-{(b + 1) / bins:.1f}" for b in range(bins) if (index == b).any()]
    return [
        {
            "bin": edge,
            "count": count,
            "mean_confidence": round(float(pred), 4),
            "accuracy": round(float(true), 4),
        }
        for edge, count, pred, true in zip(edges, counts, prob_pred, prob_true, strict=True)
    ]
