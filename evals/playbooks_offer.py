"""Choose the chat offer threshold of playbook suggestions from labelled data.

Grace offers a playbook in chat only when the best-ranked one is similar enough to the staff
message (:data:`graphs.playbooks.suggest.OFFER_THRESHOLD`). The data: the 42 labelled contexts
of ``evals/datasets/playbooks.jsonl`` (each fits one playbook) and the 42 ordinary staff
messages of ``evals/datasets/playbooks_no_offer.jsonl`` (written in a separate pass, before
any score was seen; none should get an offer). Each set is split by alternating its cases in
id order (per expected playbook): even positions are the dev part, odd ones the test part.

An offer is *right* when the context fits a playbook and the top-ranked one is it; *wrong*
when the context fits none, or another playbook. The threshold maximises F-beta of right
offers with beta = :data:`BETA` = 0.5 on dev (candidates: midpoints between consecutive dev
similarities; ties go to the higher one). Precision weighs more than recall because a wrong
offer interrupts a staff member and a careless "yes" would start a run that moves workflow
states, while a missed offer costs one ``grace playbooks suggest``. The test part is reported
at that threshold. Similarity is the top suggestion's cosine similarity with no run history.

Run: ``python -m evals.playbooks_offer`` (prints JSON; uses the process's embedder).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from evals.schemas import DATASETS_DIR
from graphs.playbooks.suggest import PlaybookSuggester

#: Weight of recall against precision in the F-beta the threshold maximises.
BETA = 0.5


@dataclass(frozen=True)
class Scored:
    """One context: what fits (None: nothing), the top suggestion and its similarity."""

    id: str
    expected: str | None
    top: str
    similarity: float


def load() -> list[dict[str, Any]]:
    """The positive and the no-offer contexts, as ``{"id", "context", "expected"}`` dicts."""
    rows: list[dict[str, Any]] = []
    for name in ("playbooks", "playbooks_no_offer"):
        with open(DATASETS_DIR / f"{name}.jsonl", encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def split(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Dev and test parts: alternate cases in id order within each expected label."""
    dev: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    for label in sorted({str(r["expected"]) for r in rows}):
        group = sorted((r for r in rows if str(r["expected"]) == label), key=lambda r: r["id"])
        dev += group[0::2]
        test += group[1::2]
    return dev, test


def score_all(suggester: PlaybookSuggester, rows: Sequence[dict[str, Any]]) -> list[Scored]:
    """Rank every context; keep the top suggestion and its similarity."""
    out = []
    for r in rows:
        best = suggester.rank(r["context"], k=1)[0]
        out.append(Scored(r["id"], r["expected"], best.playbook, best.similarity))
    return out


def figures(scored: Sequence[Scored], threshold: float) -> dict[str, Any]:
    """Precision, recall and F1 of right offers at ``threshold``, and the wrong offers."""
    offered = [s for s in scored if s.similarity >= threshold]
    right = sum(s.expected == s.top for s in offered)
    positives = sum(s.expected is not None for s in scored)
    precision = right / len(offered) if offered else 1.0
    recall = right / positives if positives else 0.0
    f1 = _f_beta(precision, recall, 1.0)
    return {
        "threshold": round(threshold, 4),
        "cases": len(scored),
        "offers": len(offered),
        "right": right,
        "wrong_playbook": sum(s.expected is not None and s.expected != s.top for s in offered),
        "offered_to_no_fit": sum(s.expected is None for s in offered),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        f"f{BETA:g}": round(_f_beta(precision, recall, BETA), 4),
    }


def _f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0


def choose(dev: Sequence[Scored]) -> float:
    """The threshold with the best dev F-beta (beta :data:`BETA`; ties: the higher one)."""
    sims = sorted({s.similarity for s in dev})
    candidates = [(a + b) / 2 for a, b in pairwise(sims)] or sims
    return max(candidates, key=lambda t: (figures(dev, t)[f"f{BETA:g}"], t))


def main() -> None:
    """Print the chosen threshold with dev and test figures."""
    from agents.encoder import router_embedder
    from graphs.core.settings import get_settings
    from knowledge.embedding.factory import get_default_embedder

    settings = get_settings()
    encoder = router_embedder(settings.models_dir, get_default_embedder(settings))
    suggester = PlaybookSuggester(encoder)
    dev_rows, test_rows = split(load())
    dev, test = score_all(suggester, dev_rows), score_all(suggester, test_rows)
    t = choose(dev)
    print(json.dumps({"chosen": round(t, 3), "dev": figures(dev, t), "test": figures(test, t),
                      "test_at_0.35_eyeballed": figures(test, 0.35)}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
