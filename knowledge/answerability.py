"""Answerability: does the knowledge base hold an answer to this question at all?

A single cosine threshold cannot tell (issue 14: the best-passage similarity of answerable
questions, 10th percentile 0.34, overlaps that of unanswerable ones, up to 0.41). The decision
here is a logistic regression over three features of the ranked candidates and the corpus
(all from :func:`features`):

* ``top_similarity``: best cosine similarity between the query and a candidate passage;
* ``best_coverage``: the largest IDF-weighted share of the question's terms found in one of the
  first five passages (:meth:`knowledge.store.base.TermStats.coverage`: a rare term the
  question hinges on weighs more than a common one);
* ``absent_terms``: the IDF-weighted share of the question's terms found **nowhere** in the
  searched collection (:meth:`knowledge.store.base.TermStats.absent_share`): an unanswerable
  question usually names something the corpus never mentions ("parking", "sauna", "Wi-Fi").

Fitted on the Atlas dev split (passes ``dev-a`` and ``dev-b``) plus the starter-corpus retrieval
set (158 answerable, 51 unanswerable; 2026-12-04; 5-fold cross-validated) the three abstain on
16 % of unanswerable questions at 3 % false abstention (ROC AUC ~0.75), the best similarity alone
on 12 % at 4 % (AUC 0.73). Still far from issue 14's 0.90: many answerable client questions use
words the documents never do ("much", "upfront", "giftcard") and many unanswerable ones only
words they do ("staff", "workflow", "price"), so neither absence nor coverage separates them
well. The earlier features (unweighted word overlap, share of words in none of the top ten)
reached 14 % on the smaller set; the top-1/top-2 margin and the raw full-text rank added
nothing on dev.

The coefficients are data, not code: ``knowledge/answerability.json`` (versioned), written by
``python -m evals.fit_answerability`` from the Atlas eval set's **dev** split (the four seed
documents plus the starter corpus, answerable against unanswerable questions) and the starter
retrieval set; the file records its source, date, the probability cut and the dev figures. The
product never imports ``evals``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

#: The shipped model (``python -m evals.fit_answerability`` writes it).
MODEL_PATH = Path(__file__).with_name("answerability.json")

#: Feature names, in the order of the model's coefficients.
FEATURES: tuple[str, ...] = ("top_similarity", "best_coverage", "absent_terms")

#: Candidates (ranked order) whose similarity ``top_similarity`` looks at.
FEATURE_DEPTH = 10

#: Passages ``best_coverage`` looks at.
OVERLAP_DEPTH = 5


class AnswerabilityError(ValueError):
    """The model file is missing, malformed or does not match :data:`FEATURES`."""


def features(
    similarities: Sequence[float], coverages: Sequence[float], absent_share: float
) -> list[float]:
    """The feature vector of a query's ranked candidates (see the module docstring).

    Args:
        similarities: Cosine similarity of each candidate to the query, in ranked order (no
            threshold applied); the first :data:`FEATURE_DEPTH` are read.
        coverages: Each candidate's IDF-weighted term coverage (0..1), same order; the first
            :data:`OVERLAP_DEPTH` are read.
        absent_share: IDF-weighted share (0..1) of the query's terms absent from the collection.

    Returns:
        One float per name in :data:`FEATURES`; ``[0.0, 0.0, 1.0]`` when there is no candidate.
    """
    if not similarities:
        return [0.0, 0.0, 1.0]
    return [
        max(similarities[:FEATURE_DEPTH]),
        max(coverages[:OVERLAP_DEPTH], default=0.0),
        absent_share,
    ]


@dataclass(frozen=True)
class AnswerabilityModel:
    """A fitted logistic regression on standardised features.

    ``P(answerable) = sigmoid(intercept + sum(coef_i * (x_i - mean_i) / scale_i))``; the
    question is answerable when that is at least ``cut``.

    Attributes:
        version: Model version (bumped by each fit; part of retrieval cache keys).
        features: Feature names, must equal :data:`FEATURES`.
        mean: Per-feature mean of the fitting data.
        scale: Per-feature standard deviation of the fitting data (> 0).
        coef: Logistic-regression coefficients on the standardised features.
        intercept: Logistic-regression intercept.
        cut: Probability at and above which a question counts as answerable (chosen on dev).
        source: How and on what it was fitted (free text, from the model file).
    """

    version: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    cut: float
    source: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerabilityModel:
        """Build from the JSON file's object.

        Raises:
            AnswerabilityError: missing keys, wrong lengths, features other than
                :data:`FEATURES`, or a non-positive scale.
        """
        try:
            model = cls(
                version=str(data["version"]),
                features=tuple(str(f) for f in data["features"]),
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) for v in data["scale"]),
                coef=tuple(float(v) for v in data["coef"]),
                intercept=float(data["intercept"]),
                cut=float(data["cut"]),
                source=str(data.get("source", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AnswerabilityError(f"malformed answerability model: {exc}") from exc
        if model.features != FEATURES:
            raise AnswerabilityError(
                f"model features {model.features} differ from the code's {FEATURES}"
            )
        n = len(FEATURES)
        if not (len(model.mean) == len(model.scale) == len(model.coef) == n):
            raise AnswerabilityError("mean, scale and coef must have one value per feature")
        if any(s <= 0 for s in model.scale):
            raise AnswerabilityError("every scale must be positive")
        return model

    def probability(self, x: Sequence[float]) -> float:
        """``P(answerable)`` for a feature vector from :func:`features`."""
        z = self.intercept + sum(
            c * (v - m) / s for c, v, m, s in zip(self.coef, x, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z))

    def answerable(self, x: Sequence[float]) -> bool:
        """Whether a question with feature vector ``x`` (:func:`features`) is answered."""
        return self.probability(x) >= self.cut


def load_model(path: Path | str = MODEL_PATH) -> AnswerabilityModel:
    """Read a model file.

    Raises:
        AnswerabilityError: the file is missing, not JSON, or malformed.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AnswerabilityError(f"cannot read answerability model {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise AnswerabilityError(f"answerability model {path} is not a JSON object")
    return AnswerabilityModel.from_dict(data)


@lru_cache(maxsize=1)
def default_model() -> AnswerabilityModel:
    """The shipped model (:data:`MODEL_PATH`), read once per process."""
    return load_model(MODEL_PATH)
