"""Suggest playbooks for a context: embedding similarity * past success rate, with reasons.

Each playbook is represented by its description and its example requests, embedded once with
the local encoder (all-MiniLM-L6-v2; any object with ``embed_documents``/``embed_query`` and
unit-norm vectors). A context's similarity to a playbook is its best cosine similarity to any of
those texts. The success rate is Laplace-smoothed, ``(completed + 1) / (finished + 2)``, so a
playbook with no history counts as 0.5 rather than 0 or 1; the score is
``similarity * (0.5 + 0.5 * rate)``, so history can move a playbook by at most a factor of two
and never outweighs a clearly better match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from graphs.playbooks.model import PlaybookCatalog, default_playbooks

#: Weight of the thread's recent activity against the context itself in the query vector.
RECENT_WEIGHT = 0.3
#: Below this similarity (of the top suggestion, cosine, no history) Grace offers no playbook
#: in chat. Chosen by ``python -m evals.playbooks_offer``: the F0.5-best threshold on the dev
#: half of the 42 labelled contexts (``evals/datasets/playbooks.jsonl``) plus 42 staff messages
#: that fit none (``playbooks_no_offer.jsonl``), all-MiniLM-L6-v2. On the test half: precision
#: 0.75, recall 0.75 of right offers; 4 of the 21 no-fit messages still get one (0.35, the
#: earlier eyeballed value: precision 0.65, recall 0.85, 7 of 21).
OFFER_THRESHOLD = 0.457


class Encoder(Protocol):
    """What the suggester needs from an embedder."""

    def embed_documents(self, texts: Sequence[str]) -> Any:
        """Unit-norm vectors, one row per text."""
        ...

    def embed_query(self, text: str) -> Any:
        """One unit-norm vector."""
        ...


@dataclass(frozen=True)
class Suggestion:
    """One ranked playbook."""

    playbook: str
    name: str
    score: float
    similarity: float
    success_rate: float
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


class PlaybookSuggester:
    """Rank playbooks for a context.

    Args:
        encoder: Unit-norm sentence embedder.
        playbooks: Candidates; the built-ins by default.
    """

    def __init__(self, encoder: Encoder, playbooks: PlaybookCatalog | None = None) -> None:
        self.encoder = encoder
        self.playbooks = list(playbooks or default_playbooks())
        self._texts: list[list[str]] = [[pb.description, *pb.examples] for pb in self.playbooks]
        flat = [t for texts in self._texts for t in texts]
        matrix = np.asarray(encoder.embed_documents(flat), dtype=np.float32)
        self._vectors: list[np.ndarray] = []
        start = 0
        for texts in self._texts:
            self._vectors.append(matrix[start : start + len(texts)])
            start += len(texts)

    def rank(
        self,
        context: str,
        *,
        recent: Sequence[str] = (),
        history: dict[str, tuple[int, int]] | None = None,
        k: int = 3,
    ) -> list[Suggestion]:
        """The ``k`` best playbooks for ``context``, best first.

        Args:
            context: The request or intent, e.g. a chat message.
            recent: The thread's recent messages (weighted :data:`RECENT_WEIGHT`).
            history: Playbook id → (completed runs, finished runs), e.g. from
                :meth:`~graphs.playbooks.store.PlaybookStore.success_rates`.
            k: How many to return.
        """
        q = np.asarray(self.encoder.embed_query(context), dtype=np.float32)
        if recent:
            r = np.asarray(self.encoder.embed_query(" ".join(recent[-5:])), dtype=np.float32)
            q = (1 - RECENT_WEIGHT) * q + RECENT_WEIGHT * r
            q /= float(np.linalg.norm(q)) or 1.0
        history = history or {}
        out = []
        for pb, texts, vecs in zip(self.playbooks, self._texts, self._vectors, strict=True):
            sims = vecs @ q
            best = int(np.argmax(sims))
            sim = float(sims[best])
            ok, total = history.get(pb.id, (0, 0))
            rate = (ok + 1) / (total + 2)
            reasons = [f"closest to {'its description' if best == 0 else repr(texts[best])} "
                       f"(similarity {sim:.2f})"]  # fmt: skip
            reasons.append(f"past runs: {ok} of {total} completed" if total else "no past runs yet")
            if pb.level >= 3:
                reasons.append(f"responds at escalation level {pb.level}")
            out.append(Suggestion(pb.id, pb.name, round(sim * (0.5 + 0.5 * rate), 4),
                                  round(sim, 4), round(rate, 3), reasons))  # fmt: skip
        out.sort(key=lambda s: (-s.score, s.playbook))
        return out[: max(1, k)]
