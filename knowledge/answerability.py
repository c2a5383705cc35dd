"""Answerability: does the knowledge base hold an answer to this question at all?

A single cosine threshold cannot tell (issue 14: the best-passage similarity of answerable
questions, 10th percentile 0.34, overlaps that of unanswerable ones, up to 0.41). The decision
here is a logistic regression over a few features of the ranked candidates (all from
:func:`features`):

* ``top_similarity``: best cosine similarity between the query and a candidate passage;
* ``best_term_overlap``: the largest share of the question's content words found in one of the
  first five passages (its text and heading path);
* ``uncovered_terms``: share of the question's content words found in none of the first ten
  passages (an unanswerable question usually asks about something the corpus never names).

Fitted on the Atlas dev split plus the starter-corpus retrieval set (158 answerable, 29
unanswerable; 5-fold cross-validated, 10 shuffles) the three reach ROC AUC 0.74 and abstain on
14 % of unanswerable questions at <= 5 % false abstention: no better than the best similarity
alone (0.75 / 15 %) on that mix. Term overlap separates the seed-document questions (dev AUC
0.82) but not the team-written indirect questions of the retrieval set (0.56); the top-1/top-2
similarity margin and the first passage's fused RRF score lowered the figures and are not used.
Issue 14's abstention target (>= 0.90) needs a stronger signal than these.

The coefficients are data, not code: ``knowledge/answerability.json`` (versioned), written by
``python -m evals.fit_answerability`` from the Atlas eval set's **dev** split (the four seed
documents plus the starter corpus, answerable against unanswerable questions); the file records
its source, date, the probability cut and the dev figures. The product never imports ``evals``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from knowledge.terms import STOPWORDS

#: The shipped model (``python -m evals.fit_answerability`` writes it).
MODEL_PATH = Path(__file__).with_name("answerability.json")

#: Feature names, in the order of the model's coefficients.
FEATURES: tuple[str, ...] = ("top_similarity", "best_term_overlap", "uncovered_terms")

#: Candidates (fused order) the features look at.
FEATURE_DEPTH = 10

#: Passages ``best_term_overlap`` looks at.
OVERLAP_DEPTH = 5

_WORD = re.compile(r"[a-z0-9]+")


class AnswerabilityError(ValueError):
    """The model file is missing, malformed or does not match :data:`FEATURES`."""


class Candidate(Protocol):
    """What the features read from a ranked passage (``knowledge.retriever.Passage`` fits)."""

    @property
    def text(self) -> str:
        """The passage text."""
        ...

    @property
    def similarity(self) -> float:
        """Cosine similarity to the query."""
        ...

    @property
    def heading_path(self) -> tuple[str, ...]:
        """Document title and section headings."""
        ...


def content_terms(text: str) -> set[str]:
    """Lower-cased content words of ``text`` with a crude plural/suffix fold.

    Stopwords and one-letter words are dropped; ``-ies`` -> ``-y``, then a trailing ``-s``
    (not ``-ss``) is removed, so "fees"/"fee" and "policies"/"policy" meet.
    """
    out: set[str] = set()
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS or len(w) < 2:
            continue
        if len(w) > 4 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(w)
    return out


def _passage_terms(p: Candidate) -> set[str]:
    return content_terms(p.text + " " + " ".join(p.heading_path))


def features(query: str, ranked: Sequence[Candidate]) -> list[float]:
    """The feature vector of a query and its ranked candidates (see the module docstring).

    Args:
        query: The question.
        ranked: Candidate passages in fused order, best first, with no similarity threshold
            applied; only the first :data:`FEATURE_DEPTH` are read.

    Returns:
        One float per name in :data:`FEATURES`: ``[0.0, 0.0, 1.0]`` when there is no
        candidate; a question without content words has overlap 0.0 and uncovered 1.0.
    """
    top = list(ranked[:FEATURE_DEPTH])
    if not top:
        return [0.0, 0.0, 1.0]
    terms = content_terms(query)
    per_passage = [_passage_terms(p) for p in top]
    if terms:
        best = max(len(terms & t) for t in per_passage[:OVERLAP_DEPTH]) / len(terms)
        uncovered = len(terms - set().union(*per_passage)) / len(terms)
    else:
        best, uncovered = 0.0, 1.0
    return [max(p.similarity for p in top), best, uncovered]


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

    def answerable(self, query: str, ranked: Sequence[Candidate]) -> bool:
        """Whether ``ranked`` (fused order, unthresholded) holds an answer to ``query``."""
        return bool(ranked) and self.probability(features(query, ranked)) >= self.cut


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
