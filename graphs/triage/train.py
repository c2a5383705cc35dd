"""Fitting the triage classifiers: one function, :func:`fit_triage`, so a cache can wrap it.

Every classifier is a class-weighted multinomial logistic regression (scikit-learn, lbfgs, L2)
on :mod:`graphs.triage.features`, calibrated by temperature scaling inside
``CalibratedClassifierCV(method="temperature", cv=3)`` (Guo et al., "On Calibration of Modern
Neural Networks", ICML 2017): the cross-fitted members are averaged, so predicted
probabilities are calibrated on held-out folds of the training split, never on dev or test.

Classifiers (labels from :mod:`graphs.triage.schema`):

* ``persona``: nine labels (eight personas and Grace);
* ``person``: binary, a person must decide (``level == 4``); level 4 is ``P(person)``
  against a threshold chosen on dev for recall;
* ``risk``: ten categories, naming the risk behind a level 4;
* ``act``: six dialogue acts;
* ``level``: levels 1-4 (used for level 3, incidents, and level 2, complaints);
* ``multi``: several independent requests (``intents >= 2``) or not.

Messages with conversation ``context`` train only the act classifier (their persona, risk
and level follow from the thread state, not from their words).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from graphs.triage.features import Featurizer
from graphs.triage.model import TriageModels
from graphs.triage.schema import TriageExample

if TYPE_CHECKING:
    from knowledge.embedding.base import Embedder

#: Inverse L2 strength of every logistic regression; best of {3, 10, 30} on dev (persona,
#: act and level-4 separation). Rechecked after train pass ``train-c``: at each value's own
#: dev-chosen level-4 threshold, 10 and 30 were within one dev message of 3 on every figure
#: and no better on a two-fold split of ``train-c``, so 3 was kept.
C = 3.0


def _classifier(x: Any, y: Sequence[str], seed: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    base = LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)
    counts = np.unique(np.asarray(y), return_counts=True)[1]
    if len(counts) < 2:
        raise ValueError("a triage classifier needs at least two labels in the training data")
    folds = int(min(3, counts.min()))
    if folds < 2:  # a label with one example: fit without cross-fitted calibration
        return base.fit(x, list(y))
    model = CalibratedClassifierCV(base, method="temperature", cv=folds, ensemble=False)
    return model.fit(x, list(y))


def fit_triage(
    examples: Sequence[TriageExample], embedder: Embedder, *, seed: int = 0
) -> TriageModels:
    """Fit every triage classifier on ``examples``.

    Deterministic for the same examples, embedder and seed. Takes ~5-15 s for 2,000 examples
    on two cores (embedding the texts is most of it).

    Args:
        examples: The training split (:func:`graphs.triage.schema.load_examples`).
        embedder: Sentence embedder used again at prediction time.
        seed: Random state of the solvers.

    Raises:
        ValueError: ``examples`` is empty or a label set has a single value.
    """
    if not examples:
        raise ValueError("no training examples")
    from threadpoolctl import threadpool_limits

    # One BLAS thread: on small problems, thread start-up and oversubscription on a shared
    # two-core machine cost ~10x (17 s against 1.3 s for one persona fit, measured).
    with threadpool_limits(limits=1):
        return _fit(examples, embedder, seed)


def _needs_person(example: TriageExample) -> str:
    """Label of the ``person`` classifier: ``yes`` for level 4, except a yes or no to an offer.

    A yes to "shall I hand this over?" is level 4 because of the thread's pending offer, not
    its words ("Yes, I'd like that."); the text model learns such answers as ``no``.
    """
    if example.context and example.act in ("confirmation", "refusal"):
        return "no"
    return "yes" if example.level == 4 else "no"


def _fit(examples: Sequence[TriageExample], embedder: Embedder, seed: int) -> TriageModels:
    texts = [e.text for e in examples]
    featurizer = Featurizer(embedder)
    x = featurizer.fit(texts, featurizer.embed(texts))
    # Messages that only make sense after earlier turns ("yes please", "make it shorter")
    # teach the dialogue act; their persona, risk and level come from the thread state, so
    # the other classifiers learn from self-contained messages only.
    alone = np.array([not e.context for e in examples])
    xa, own = x[alone], [e for e in examples if not e.context]
    return TriageModels(
        featurizer=featurizer,
        persona=_classifier(xa, [e.persona for e in own], seed),
        risk=_classifier(xa, [e.risk for e in own], seed),
        person=_classifier(x, [_needs_person(e) for e in examples], seed),
        act=_classifier(x, [e.act for e in examples], seed),
        level=_classifier(xa, [str(e.level) for e in own], seed),
        multi=_classifier(xa, ["multi" if e.intents >= 2 else "single" for e in own], seed),
    )
