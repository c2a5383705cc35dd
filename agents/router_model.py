"""The router's scoring ensemble: training texts, three softmax regressions, calibration.

Members, each a multinomial logistic regression (L2, lbfgs; scikit-learn) fitted on the same
training texts:

1. sentence embeddings of the texts (any :class:`~knowledge.embedding.base.Embedder`);
2. TF-IDF of character 2-5-grams within word boundaries (robust to typos);
3. TF-IDF of lightly stemmed words and word pairs.

Their log-probabilities are pooled with weights :data:`WEIGHTS` and divided by
:data:`TEMPERATURE`, then soft-maxed: a log-linear opinion pool (Genest & Zidek, "Combining
probability distributions", Statistical Science 1986) calibrated by temperature scaling (Guo et
al., "On Calibration of Modern Neural Networks", ICML 2017).

Where the constants come from: 5-fold cross-validation, repeated 3 times, over the registry's
own exemplars (the other training texts always in the training folds), with
all-MiniLM-L6-v2. Embedding member alone: 70 % top-1; char n-grams: 74 %; words: 66 %; the pool
with weights (0.3, 0.55, 0.15): 78-80 %. The regularisation strengths ``C`` were picked on the
same folds from {3, 10, 30}; the temperature 0.56 minimises the held-out negative
log-likelihood. ``evals/datasets/routing.jsonl`` was used for none of this.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from graphs.workflows.model import PERSONAS

if TYPE_CHECKING:
    from agents.registry import PersonaRegistry
    from graphs.workflows.catalog import WorkflowCatalog
    from knowledge.embedding.base import Embedder

#: Log-linear pool weights of the (embedding, char n-gram, word) members (CV, see module doc).
WEIGHTS: tuple[float, float, float] = (0.3, 0.55, 0.15)
#: Calibration temperature of the pooled log-probabilities (minimum held-out NLL).
TEMPERATURE = 0.56
#: Inverse L2 strength of each member's logistic regression (CV over {3, 10, 30}).
C_EMBEDDING, C_CHARS, C_WORDS = 10.0, 30.0, 10.0
#: Log-odds added to a persona whose name the message contains ("ask Solari", "@zevi"): a
#: Bayes factor of 4, enough to settle a close call but not to override a clear other intent.
#: The exemplars never name personas, so this is a stated prior, not a fitted value.
NAME_EVIDENCE = math.log(4.0)

_HANDOFF = re.compile(
    r"^(?P<what>.+?);\s*(?P<who>[a-z]+) handles? (?:those|that|them|it)\b", re.IGNORECASE
)
_WORD = re.compile(r"[a-z0-9']+")
_SPACES = re.compile(r"\s\s+")
#: n-gram lengths of the character member (CV, see module doc).
CHAR_NGRAMS = (2, 5)
#: Version of the fitting code, part of the fit-cache key: bump it when the members, their
#: features or the stored classes change.
FIT_CODE_VERSION = "router-ensemble-v1"
#: Acknowledgements and fillers that never identify a request, on top of scikit-learn's
#: English stop words.
_FILLER_WORDS = """ok okay thanks thank great sure yes yeah yep no nope good fine perfect cool
lovely nice please hi hello hey right alright awesome brilliant cheers wonderful instead ahead
anyway thing stuff does did doing done"""
FILLERS = frozenset(_FILLER_WORDS.split())
_SUFFIXES = ("ings", "ing", "ed", "es", "s", "ly")

FloatArray = npt.NDArray[np.float64]


def training_examples(
    registry: PersonaRegistry, catalog: WorkflowCatalog | None = None
) -> list[tuple[str, str]]:
    """``(text, persona)`` pairs the router learns from, all taken from product data.

    Per persona: its exemplars, scope lines, role and keywords; every other persona's (and
    Grace's) out-of-scope lines of the form "X; <persona> handles those"; and for each workflow
    transition it owns, ``"<workflow name>: <event words>"``.
    """
    if catalog is None:
        from graphs.workflows.catalog import default_catalog

        catalog = default_catalog()
    out: list[tuple[str, str]] = []
    for p in registry.personas:
        out += [(t, p.name) for t in (*p.exemplars, *p.scope, p.role, *p.keywords)]
    for p in (*registry.personas, registry.grace):
        for line in p.out_of_scope:
            match = _HANDOFF.match(line)
            if match and match.group("who").lower() in PERSONAS:
                out.append((match.group("what"), match.group("who").lower()))
    for wf in catalog:
        for t in wf.transitions:
            if t.owner in PERSONAS:
                out.append((f"{wf.name}: {t.event.replace('_', ' ')}", t.owner))
    return out


def stem(word: str) -> str:
    """Strip one common English suffix (``booking``/``booked``/``books`` -> ``book``)."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def word_tokens(text: str) -> list[str]:
    """Lower-cased, stemmed words (see :func:`stem`)."""
    return [stem(w) for w in _WORD.findall(text.lower())]


def _log_softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    out: FloatArray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


@dataclass(frozen=True)
class _Linear:
    """A fitted softmax regression: ``log_softmax(x @ coef.T + intercept)``."""

    coef: FloatArray
    intercept: FloatArray

    @classmethod
    def fit(cls, x: Any, y: Sequence[int], c: float) -> _Linear:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=5000).fit(x, np.asarray(y))
        if list(model.classes_) != list(range(len(PERSONAS))):
            raise ValueError("every persona needs at least one training text")
        return cls(np.asarray(model.coef_, np.float64), np.asarray(model.intercept_, np.float64))

    def log_proba(self, x: Any) -> FloatArray:
        return _log_softmax(np.asarray(x @ self.coef.T, np.float64) + self.intercept)


def char_ngrams(text: str) -> list[str]:
    """Character 2-5-grams within word boundaries, each word padded with one space.

    The same features as scikit-learn's ``TfidfVectorizer(analyzer="char_wb",
    ngram_range=(2, 5))`` (lower-cased; checked in the unit tests), as a plain function so a
    fitted router loads and runs without importing scikit-learn (~1.3 s of start-up).
    """
    out: list[str] = []
    for word in _SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
            offset = 0
            out.append(padded[offset : offset + n])
            while offset + n < len(padded):
                offset += 1
                out.append(padded[offset : offset + n])
            if offset == 0:  # the word is shorter than n: longer n-grams are the same text
                break
    return out


def word_ngrams(text: str) -> list[str]:
    """Stemmed words (:func:`word_tokens`) and adjacent word pairs joined by a space.

    The same features as ``TfidfVectorizer(tokenizer=word_tokens, ngram_range=(1, 2))``.
    """
    tokens = word_tokens(text)
    return [*tokens, *(f"{a} {b}" for a, b in pairwise(tokens))]


class _Lexical:
    """A fitted TF-IDF vocabulary and its softmax regression, evaluated without scipy.

    ``TfidfVectorizer.transform`` costs ~1.2 ms for one short message (sparse-matrix overhead);
    the same arithmetic on the few n-grams present (sublinear tf x idf, L2 norm, a gather of the
    coefficient rows) takes ~0.1 ms and gives the same features (checked in the unit tests).
    Pickles without the vectorizer (``vectorizer`` is None after loading from the fit cache).
    """

    def __init__(self, vectorizer: Any, linear: _Linear) -> None:
        self.vectorizer: Any = vectorizer
        self.linear = linear
        self._analyze: Callable[[str], list[str]] = vectorizer.analyzer
        self._vocabulary: dict[str, int] = {
            str(k): int(v) for k, v in vectorizer.vocabulary_.items()
        }
        self._idf = np.asarray(vectorizer.idf_, np.float64)
        self._weights_t = np.ascontiguousarray(linear.coef.T)  # (features, classes)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "vectorizer": None}

    def features(self, text: str) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """Indices and values of the text's non-zero TF-IDF features."""
        counts: dict[int, int] = {}
        for gram in self._analyze(text):
            j = self._vocabulary.get(gram)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        idx = np.fromiter(counts, dtype=np.intp, count=len(counts))
        values = (1.0 + np.log(np.fromiter(counts.values(), np.float64))) * self._idf[idx]
        norm = float(np.sqrt(values @ values))
        return idx, values / norm if norm > 0 else values

    def log_proba(self, texts: Sequence[str]) -> FloatArray:
        z = np.tile(self.linear.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            idx, values = self.features(text)
            z[row] += values @ self._weights_t[idx]
        return _log_softmax(z)


@dataclass(frozen=True)
class _Fitted:
    """What a fit produces and the fit cache stores: the members and the stop-word list."""

    members: tuple[_Linear, _Lexical, _Lexical]
    stop_words: frozenset[str]


class RouterModel:
    """The fitted ensemble; build it with :meth:`fit`."""

    def __init__(
        self,
        embedder: Embedder,
        members: tuple[_Linear, _Lexical, _Lexical],
        *,
        labels: tuple[str, ...],
        weights: tuple[float, float, float],
        temperature: float,
        name_evidence: float,
        stop_words: frozenset[str] = frozenset(),
    ) -> None:
        self.embedder = embedder
        self.labels = labels
        self.weights = weights
        self.temperature = temperature
        self.name_evidence = name_evidence
        self.stop_words = stop_words
        self._members = members
        self._names = re.compile(r"(?<![\w])@?(" + "|".join(labels) + r")\b", re.IGNORECASE)

    @classmethod
    def fit(
        cls,
        examples: Sequence[tuple[str, str]],
        embedder: Embedder,
        *,
        labels: tuple[str, ...] = PERSONAS,
        weights: tuple[float, float, float] = WEIGHTS,
        temperature: float = TEMPERATURE,
        name_evidence: float = NAME_EVIDENCE,
        cache_dir: str | Path | None = None,
    ) -> RouterModel:
        """Embed the training texts in one batch and fit the three members.

        With ``cache_dir`` the fitted members are kept on disk (:mod:`agents.fit_cache`), keyed
        by ``embedder.model``, the examples, the labels, the members' hyperparameters and
        :data:`FIT_CODE_VERSION`: a later start with the same inputs loads them (~10 ms instead
        of ~5 s on two cores), any change refits. Weights, temperature and name evidence apply
        after the members and are not part of the key.

        Raises:
            ValueError: a persona has no training text, a label is unknown, the temperature is
                not positive or a weight is negative.
        """
        from agents import fit_cache

        if temperature <= 0 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("temperature must be > 0 and weights >= 0 with a positive sum")
        index = {name: i for i, name in enumerate(labels)}
        unknown = sorted({who for _, who in examples} - set(index))
        if unknown:
            raise ValueError(f"training labels not among the personas: {unknown}")
        pairs = [(t, who) for t, who in examples]
        data = {
            "examples": pairs,
            "labels": list(labels),
            "C": [C_EMBEDDING, C_CHARS, C_WORDS],
            "char_ngrams": list(CHAR_NGRAMS),
        }
        key = fit_cache.fit_key(encoder=embedder.model, data=data, code=FIT_CODE_VERSION)
        fitted = fit_cache.load_or_fit(
            cache_dir, "router", key, lambda: _fit_members(pairs, index, embedder)
        )
        return cls(
            embedder,
            fitted.members,
            labels=labels,
            weights=weights,
            temperature=temperature,
            name_evidence=name_evidence,
            stop_words=fitted.stop_words,
        )

    def content_words(self, text: str) -> list[str]:
        """Words of ``text`` that can carry a request: not stop words, chit-chat or numbers.

        Stop words are scikit-learn's English list (kept with the fitted model, so routing
        never imports scikit-learn). A message with fewer than two of these ("ok and what
        time?", "thanks, sounds good") names no request of its own; the router treats it as a
        follow-up.
        """
        return [
            stem(w)
            for w in _WORD.findall(text.lower())
            if len(w) > 2 and w not in self.stop_words and w not in FILLERS and not w.isdigit()
        ]

    def logits(self, texts: list[str]) -> FloatArray:
        """Calibrated logits, shape ``(len(texts), len(labels))`` (softmax gives probabilities)."""
        if len(texts) == 1:
            vectors = self.embedder.embed_query(texts[0])[None, :]
        else:
            vectors = self.embedder.embed_documents(texts)
        emb, chars, words = self._members
        pooled = (
            self.weights[0] * emb.log_proba(vectors)
            + self.weights[1] * chars.log_proba(texts)
            + self.weights[2] * words.log_proba(texts)
        ) / (sum(self.weights) * self.temperature)
        for row, text in enumerate(texts):
            for name in {m.lower() for m in self._names.findall(text)}:
                pooled[row, self.labels.index(name)] += self.name_evidence
        return pooled

    def predict(self, texts: list[str]) -> FloatArray:
        """Calibrated probabilities, shape ``(len(texts), len(labels))``, rows summing to 1."""
        out: FloatArray = np.exp(_log_softmax(self.logits(texts)))
        return out


def _fit_members(
    examples: Sequence[tuple[str, str]], index: dict[str, int], embedder: Embedder
) -> _Fitted:
    """Fit the embedding, character and word members on ``examples`` (scikit-learn)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    texts = [t for t, _ in examples]
    y = [index[who] for _, who in examples]
    # Callable analyzers: the same features as sklearn's char_wb and tokenizer analyzers, and
    # a fitted member that needs no scikit-learn to run (see char_ngrams).
    chars = TfidfVectorizer(analyzer=char_ngrams, sublinear_tf=True)
    words = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True)
    members = (
        _Linear.fit(embedder.embed_documents(texts), y, C_EMBEDDING),
        _Lexical(chars, _Linear.fit(chars.fit_transform(texts), y, C_CHARS)),
        _Lexical(words, _Linear.fit(words.fit_transform(texts), y, C_WORDS)),
    )
    return _Fitted(members, frozenset(ENGLISH_STOP_WORDS))
