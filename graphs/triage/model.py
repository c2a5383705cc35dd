"""The fitted triage classifiers and their batched prediction.

:class:`TriageModels` holds what :func:`graphs.triage.train.fit_triage` fits (scikit-learn
objects); :meth:`TriageModels.compile` reduces it to :class:`CompiledTriage`, plain NumPy
arrays and a character n-gram vocabulary, which is what a start loads from the fit cache:
predicting needs neither scikit-learn nor its import time (~0.5 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from graphs.triage.features import CharNgrams, Featurizer, embed_texts

if TYPE_CHECKING:
    from knowledge.embedding.base import Embedder


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

    @property
    def person_score(self) -> float:
        """P(a person must decide): the mean of three calibrated heads' estimates of it.

        The binary ``person`` head (:attr:`needs_person`), the risk head's
        ``1 - P(risk = none)`` and the level head's ``P(level 4)`` are fitted on the same
        level-4 messages with different label granularity; averaging the probabilities is an
        ensemble that stays calibrated (Lakshminarayanan et al., "Simple and Scalable
        Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017) and is what
        level 4 is thresholded on (:data:`graphs.triage.levels.RISK_THRESHOLD`).

        Chosen (``triage-v4``, train passes a-d) over the two-member mean of the person and
        risk heads (``triage-v3``), the person head alone, their maximum and their geometric
        mean, on the dev split and on train pass ``train-d`` (326 messages in other styles)
        scored by a fit on passes a-c. Against the two-member mean (both with the character
        weight 1.5, recall and level-1 messages sent to 4): dev at 0.40 74/76 and 8/186
        against 74/76 and 7/186, at 0.45 74/76 and 6/186 against 73/76 and 5/186;
        ``train-d`` at 0.40 53/56 and 24/247 against 53/56 and 28/247, at 0.45 52/56 and
        21/247 against 52/56 and 22/247. Over both sets, as much recall for fewer false
        alarms, or more recall for as many.
        """
        return (
            self.needs_person + 1.0 - self.risk.get("none", 1.0) + self.level.get("4", 0.0)
        ) / 3.0


def _rows(model: Any, x: Any) -> list[dict[str, float]]:
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    labels = [str(c) for c in model.classes_]
    return [dict(zip(labels, (float(v) for v in row), strict=True)) for row in proba]


@dataclass(frozen=True)
class _Head:
    """One classifier reduced to its arithmetic: ``softmax(beta * (x @ W + b))``.

    A temperature-calibrated logistic regression (``CalibratedClassifierCV(method=
    "temperature", ensemble=False)``) predicts exactly this; the binary case uses the logits
    ``(-z, z)`` as scikit-learn does. Columns ``start:stop`` of the stacked weight matrix.
    """

    labels: tuple[str, ...]
    start: int
    stop: int
    beta: float
    binary: bool

    def rows(self, z: np.ndarray) -> list[dict[str, float]]:
        logits = z[:, self.start : self.stop]
        if self.binary:
            logits = np.hstack([-logits, logits])
        logits = self.beta * logits
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return [dict(zip(self.labels, (float(v) for v in row), strict=True)) for row in p]


def _compile(models: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, list[_Head]]:
    """Stack the heads' weights: one sparse-dense product scores every classifier at once.

    Scikit-learn's ``predict_proba`` validates its input and walks the calibration wrapper
    for every call (~1.5 ms per classifier on two cores); the stacked product costs ~0.1 ms
    for all of them and gives the same probabilities (a unit test checks it).
    """
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    heads: list[_Head] = []
    start = 0
    for model in models:
        if hasattr(model, "calibrated_classifiers_"):
            (inner,) = model.calibrated_classifiers_
            lr, beta = inner.estimator, float(inner.calibrators[0].beta_)
        else:  # a label with a single example: fitted without calibration
            lr, beta = model, 1.0
        coef = np.asarray(lr.coef_, dtype=np.float64)
        weights.append(coef.T)
        biases.append(np.asarray(lr.intercept_, dtype=np.float64))
        stop = start + coef.shape[0]
        labels = tuple(str(c) for c in model.classes_)  # the inner LR sees encoded labels
        heads.append(_Head(labels, start, stop, beta, binary=coef.shape[0] == 1))
        start = stop
    return np.hstack(weights), np.concatenate(biases), heads


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
    _compiled: CompiledTriage | None = field(default=None, repr=False, compare=False)

    def heads(self) -> tuple[Any, ...]:
        """The classifiers in a fixed order: persona, risk, act, level, multi, person."""
        return (self.persona, self.risk, self.act, self.level, self.multi, self.person)

    def predict_reference(self, texts: Sequence[str]) -> list[list[dict[str, float]]]:
        """Per classifier, scikit-learn's own ``predict_proba`` rows (slow; for checks)."""
        x = self.featurizer.transform(list(texts))
        return [_rows(model, x) for model in self.heads()]

    def predict(self, texts: Sequence[str]) -> list[Probabilities]:
        """Probabilities for each text (one embedding batch for all of them)."""
        return self.compile().predict(texts)

    def compile(self) -> CompiledTriage:
        """The same classifiers as plain arrays (see :class:`CompiledTriage`); memoised."""
        if self._compiled is None:
            weights, bias, heads = _compile(self.heads())
            self._compiled = CompiledTriage(
                chars=self.featurizer.char_ngrams(),
                char_weight=self.featurizer.char_weight,
                weights=weights,
                bias=bias,
                heads=tuple(heads),
                embedder=self.featurizer.embedder,
            )
        return self._compiled


@dataclass
class CompiledTriage:
    """Fitted triage as arithmetic: features ``[embedding, w * tfidf]``, then ``x @ W + b``.

    Gives the probabilities of :meth:`TriageModels.predict_reference` (scikit-learn's own
    ``predict_proba``) to within 1e-9 (a unit test compares them), without importing
    scikit-learn. Picklable once :attr:`embedder` is None (the fit cache stores it so).

    Attributes:
        chars: The character n-gram TF-IDF vocabulary.
        char_weight: Scale of the TF-IDF block (:data:`graphs.triage.features.CHAR_WEIGHT`).
        weights: Stacked weights of every head, shape ``(dim + n_chars, n_outputs)``.
        bias: Stacked intercepts, shape ``(n_outputs,)``.
        heads: Per classifier (persona, risk, act, level, multi, person), its columns.
        embedder: The sentence embedder of the features; set after loading.
    """

    chars: CharNgrams
    char_weight: float
    weights: np.ndarray
    bias: np.ndarray
    heads: tuple[_Head, ...]
    embedder: Embedder | None = field(default=None, repr=False, compare=False)

    def predict(self, texts: Sequence[str]) -> list[Probabilities]:
        """Probabilities for each text (one embedding batch for all of them).

        Raises:
            RuntimeError: no :attr:`embedder` is attached.
        """
        if self.embedder is None:
            raise RuntimeError("CompiledTriage.embedder is not set (attach it after loading)")
        texts = list(texts)
        vectors = embed_texts(self.embedder, texts).astype(np.float64)
        dim = vectors.shape[1]
        chars = self.chars.transform(texts)
        z = vectors @ self.weights[:dim] + self.char_weight * np.asarray(chars @ self.weights[dim:])
        z += self.bias
        persona, risk, act, level, multi, person = (h.rows(z) for h in self.heads)
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

    def detached(self) -> CompiledTriage:
        """A copy without the embedder (what the fit cache pickles)."""
        return CompiledTriage(self.chars, self.char_weight, self.weights, self.bias, self.heads)
