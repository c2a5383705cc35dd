"""The fitted triage classifiers and their batched prediction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphs.triage.features import Featurizer


@dataclass(frozen=True)
class Probabilities:
    """Calibrated probabilities of one text.

    Attributes:
        persona: Per persona label.
        risk: Per risk category (``none`` included).
        act: Per dialogue act.
        level: Per level, keys ``"1"``-``"4"``.
        multi: Probability that the text holds several independent requests.
        needs_person: Probability that a person must decide (level 4).
    """

    persona: dict[str, float]
    risk: dict[str, float]
    act: dict[str, float]
    level: dict[str, float]
    multi: float
    needs_person: float


def _rows(model: Any, x: Any) -> list[dict[str, float]]:
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    labels = [str(c) for c in model.classes_]
    return [dict(zip(labels, (float(v) for v in row), strict=True)) for row in proba]


@dataclass
class TriageModels:
    """The classifiers :func:`graphs.triage.train.fit_triage` fits, sharing one featurizer.

    Attributes:
        featurizer: Embedding + character n-gram features.
        persona, risk, act, level, multi, person: Fitted scikit-learn classifiers with
            ``predict_proba`` and ``classes_``.
    """

    featurizer: Featurizer
    persona: Any
    risk: Any
    act: Any
    level: Any
    multi: Any
    person: Any

    def predict(self, texts: Sequence[str]) -> list[Probabilities]:
        """Probabilities for each text (one embedding batch for all of them)."""
        x = self.featurizer.transform(list(texts))
        persona, risk, act = _rows(self.persona, x), _rows(self.risk, x), _rows(self.act, x)
        level = _rows(self.level, x)
        multi, person = _rows(self.multi, x), _rows(self.person, x)
        return [
            Probabilities(
                persona[i],
                risk[i],
                act[i],
                level[i],
                multi[i].get("multi", 0.0),
                person[i].get("yes", 0.0),
            )
            for i in range(len(texts))
        ]
