"""The local first-stage router: which of the eight personas should answer a message (no LLM).

Model (see :mod:`agents.router_model` for the scoring ensemble and where its constants come
from): three softmax-regression members trained at construction on the registry's own data
(exemplars, scope lines, out-of-scope hand-offs, owned workflow transitions, roles, keywords),
one on sentence embeddings and two on lexical features, pooled log-linearly and calibrated by a
temperature into per-persona probabilities. An explicit persona name in the message ("ask
Solari") adds fixed evidence. ``evals/datasets/routing.jsonl`` is never used for fitting.

On top of the scores, :meth:`LocalRouter.route` handles

* multi-intent messages: the message is split into clauses (sentence ends, ";", "and also",
  ", and can…", "oh and"…); each clause is scored on its own, and clauses that go to
  different personas with at least :data:`MULTI_INTENT_MIN_CONFIDENCE` make the turn
  multi-intent, with those personas as ``secondary``;
* sticky personas: with ``current`` set, a follow-up stays with that persona unless it has
  at least :data:`MIN_CONTENT_WORDS` content words and another persona beats the current one
  by :data:`STICKY_MARGIN` in probability.

Explicit requests for a person are not the router's concern: escalation handles them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agents.registry import GRACE, PersonaRegistry
from agents.router_model import (
    NAME_EVIDENCE,
    TEMPERATURE,
    WEIGHTS,
    RouterModel,
    training_examples,
)

if TYPE_CHECKING:
    from graphs.workflows.catalog import WorkflowCatalog
    from knowledge.embedding.base import Embedder

#: A clause is a separate intent when its own top persona has at least this probability. It is
#: the default of ``Settings.router_confidence_threshold``: the confidence at which the router's
#: answer is trusted without the LLM router. On held-out exemplars (5-fold CV) routing is 72 %
#: right at confidence 0.5-0.7 and 49 % below 0.5, so weaker clauses are not treated as intents.
MULTI_INTENT_MIN_CONFIDENCE = 0.5
#: A follow-up with content leaves the current persona only when another one leads it by this
#: much probability. 0.33 is the 5th percentile of that lead for correctly routed held-out
#: exemplars (5-fold CV on the registry's exemplars, the current persona taken in turn as each of
#: the other seven): ~95 % of clear requests for another persona still switch, while messages
#: whose probabilities are spread out stay. Vague follow-ups are caught by
#: :data:`MIN_CONTENT_WORDS` first, since the scores can be confident on them.
STICKY_MARGIN = 0.33
#: A message with fewer content words than this (words of 3+ letters that are not stop words,
#: fillers or numbers) is a vague follow-up and never leaves the current persona. A stated rule,
#: not a fitted value: one content word ("what time?", "how much?") cannot name a new request, and
#: the calibrated scores are over-confident on such out-of-distribution snippets (e.g. "ok and
#: what time?" scores 0.79 for atlas because of "what time").
MIN_CONTENT_WORDS = 2
#: Clauses shorter than this many words are not scored apart ("ok", "thanks").
MIN_CLAUSE_WORDS = 3

_SPLIT = re.compile(
    r"(?<=[.?!;])\s+"  # sentence ends
    r"|\s*;\s*"
    r"|,?\s+(?:and\s+also|oh\s+and|and\s+then|plus|also)[,:]?\s+"
    r"|,\s+and\s+(?=(?:can|could|would|will|what|whats|what's|how|when|where|who|is|are|do|"
    r"does|please|i|i'd|i'm|we|we'd|if|then)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RoutingDecision:
    """Where one message goes.

    Attributes:
        persona: One of the eight persona ids.
        confidence: ``scores[persona]``: calibrated probability (0-1) that ``persona`` is the
            right owner of the message, from the temperature-scaled ensemble.
        scores: Calibrated probability per persona (the eight, summing to 1).
        multi_intent: Two or more clauses go to different personas with confidence at least
            :data:`MULTI_INTENT_MIN_CONFIDENCE`.
        secondary: The other personas with such a clause, in message order.
        sticky: The thread's ``current`` persona was kept: as top choice, because the message
            is a vague follow-up, or because no other persona led by :data:`STICKY_MARGIN`.
        reason: One line explaining the decision, for logs and the escalation record.
    """

    persona: str
    confidence: float
    scores: dict[str, float] = field(hash=False)
    multi_intent: bool = False
    secondary: tuple[str, ...] = ()
    sticky: bool = False
    reason: str = ""


def split_clauses(message: str) -> list[str]:
    """Split a message into clauses that may carry separate requests.

    Pieces shorter than :data:`MIN_CLAUSE_WORDS` words are merged into the previous clause.
    """
    clauses: list[str] = []
    for raw in _SPLIT.split(message):
        piece = raw.strip(" ,;")
        if not piece:
            continue
        if clauses and len(piece.split()) < MIN_CLAUSE_WORDS:
            clauses[-1] = f"{clauses[-1]} {piece}"
        else:
            clauses.append(piece)
    if len(clauses) > 1 and len(clauses[0].split()) < MIN_CLAUSE_WORDS:
        first = clauses.pop(0)
        clauses[0] = f"{first} {clauses[0]}"
    return clauses


class LocalRouter:
    """Routes messages to personas with embeddings and lexical features, no LLM.

    Construction embeds the training texts in one batch and fits the ensemble (~5 s on two
    cores), or loads it from ``cache_dir`` when fitted before on the same inputs (~10 ms);
    :meth:`route` then embeds only the message (and its clauses, in the same batch).
    Thread-safe after construction when the embedder is.

    Args:
        registry: The persona registry (exemplars, scope, keywords...).
        embedder: Any :class:`~knowledge.embedding.base.Embedder`; the same vectors at
            training and routing time. :class:`agents.encoder.OnnxEncoder` is the fast one.
        catalog: Workflow catalog for the owned-transition training texts; default: shipped.
        weights: Log-linear weights of the (embedding, char n-gram, word) members.
        temperature: Calibration temperature of the pooled scores.
        name_evidence: Log-odds added to a persona named in the message.
        sticky_margin: See :data:`STICKY_MARGIN`.
        multi_intent_min_confidence: See :data:`MULTI_INTENT_MIN_CONFIDENCE`.
        cache_dir: Keep the fitted ensemble here and load it on the next construction with the
            same encoder and training data (:mod:`agents.fit_cache`); None: always fit.
    """

    def __init__(
        self,
        registry: PersonaRegistry,
        embedder: Embedder,
        *,
        catalog: WorkflowCatalog | None = None,
        weights: tuple[float, float, float] = WEIGHTS,
        temperature: float = TEMPERATURE,
        name_evidence: float = NAME_EVIDENCE,
        sticky_margin: float = STICKY_MARGIN,
        multi_intent_min_confidence: float = MULTI_INTENT_MIN_CONFIDENCE,
        cache_dir: str | Path | None = None,
    ) -> None:
        if not 0 <= sticky_margin <= 1 or not 0 <= multi_intent_min_confidence <= 1:
            raise ValueError("sticky_margin and multi_intent_min_confidence must be in [0, 1]")
        self.registry = registry
        self.embedder = embedder
        self.sticky_margin = sticky_margin
        self.multi_intent_min_confidence = multi_intent_min_confidence
        self.personas: tuple[str, ...] = tuple(p.name for p in registry.personas)
        self._model = RouterModel.fit(
            training_examples(registry, catalog),
            embedder,
            labels=self.personas,
            weights=weights,
            temperature=temperature,
            name_evidence=name_evidence,
            cache_dir=cache_dir,
        )

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, shape ``(len(texts), 8)``, columns in ``personas`` order."""
        return self._model.predict(list(texts))

    def route(self, message: str, *, current: str | None = None) -> RoutingDecision:
        """Choose the persona for ``message``.

        Args:
            message: The user's text.
            current: The thread's current persona, if any (``grace`` or None: no persona yet).

        Returns:
            The decision; deterministic for the same router, message and ``current``.

        Raises:
            ValueError: ``message`` is empty or blank.
            UnknownPersonaError: ``current`` is not a persona name.
        """
        text = " ".join(message.split())
        if not text:
            raise ValueError("cannot route an empty message")
        holder = None if current is None else self.registry.get(current).name
        holder = None if holder == GRACE else holder
        clauses = split_clauses(text)
        probs = self.probabilities([text, *clauses] if len(clauses) > 1 else [text])
        full = probs[0]
        scores = {name: round(float(p), 6) for name, p in zip(self.personas, full, strict=True)}
        order = np.argsort(-full, kind="stable")
        top = self.personas[int(order[0])]

        intents: list[str] = []
        for row in probs[1:]:
            best = int(np.argmax(row))
            if row[best] >= self.multi_intent_min_confidence:
                name = self.personas[best]
                if name not in intents:
                    intents.append(name)

        persona, sticky = top, False
        reason = f"top {top} ({scores[top]:.2f})"
        if len(order) > 1:
            runner = self.personas[int(order[1])]
            reason += f" over {runner} ({scores[runner]:.2f})"
        if holder is not None:
            lead = scores[top] - scores[holder]
            content = self._model.content_words(text)
            if top == holder:
                sticky, reason = True, f"{reason}; current persona {holder} is top"
            elif len(content) < MIN_CONTENT_WORDS:
                persona, sticky = holder, True
                reason = (
                    f"stayed with current {holder}: vague follow-up ({len(content)} content "
                    f"word{'s' if len(content) != 1 else ''}); {reason}"
                )
            elif lead < self.sticky_margin:
                persona, sticky = holder, True
                reason = (
                    f"stayed with current {holder} ({scores[holder]:.2f}): {top} leads by "
                    f"{lead:.2f} < sticky margin {self.sticky_margin:.2f}"
                )
            else:
                reason = f"{reason}; left {holder}: lead {lead:.2f} >= {self.sticky_margin:.2f}"
        secondary = tuple(name for name in intents if name != persona)
        multi = len(intents) >= 2 and bool(secondary)
        if multi:
            reason += f"; multi-intent across {len(clauses)} clauses: also {', '.join(secondary)}"
        return RoutingDecision(
            persona=persona,
            confidence=scores[persona],
            scores=scores,
            multi_intent=multi,
            secondary=secondary if multi else (),
            sticky=sticky,
            reason=reason,
        )
