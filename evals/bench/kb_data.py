"""Synthetic data for ``grace bench knowledge``: a handbook-like corpus and clustered vectors.

Both are generated from a seed, so two runs measure the same data. Nothing here touches a
database or a model.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from knowledge.chunking.defaults import DEFAULT_CHUNK_SIZE

F32 = npt.NDArray[np.float32]

_TOPICS = (
    "booking",
    "refunds",
    "memberships",
    "consignment",
    "shipping",
    "privacy",
    "events",
    "wellness sessions",
    "consulting milestones",
    "escalations",
    "gift cards",
    "gallery loans",
)
_SUBJECTS = (
    "The front desk",
    "A practitioner",
    "The gallery manager",
    "The client",
    "The consultant",
    "Each member",
    "The operations team",
    "An artist",
    "The booking assistant",
    "Finance",
)
_VERBS = (
    "confirms",
    "reviews",
    "records",
    "approves",
    "schedules",
    "refunds",
    "documents",
    "escalates",
    "invoices",
    "checks",
    "updates",
    "archives",
)
_OBJECTS = (
    "the deposit",
    "the condition report",
    "the health intake form",
    "the signed proposal",
    "the shipping quote",
    "the membership freeze",
    "the consent record",
    "the guest pass",
    "the installment plan",
    "the exhibition calendar",
    "the cancellation request",
    "the milestone invoice",
    "the insurance certificate",
    "the private viewing",
)
_WHEN = (
    "within 7 business days",
    "before the session starts",
    "at the end of each month",
    "no later than 48 hours ahead",
    "once the payment clears",
    "on the first working day",
    "after the client signs",
    "during the quarterly review",
    "within 30 days of purchase",
    "before the artwork leaves the building",
    "as soon as a person is available",
)
_EXTRA = (
    "A fee of {n} dollars applies after the second change.",
    "Requests above {n} dollars need a manager's approval.",
    "The record is kept for {n} months and then deleted.",
    "Clients receive an email with reference number {n}.",
    "Up to {n} percent can be credited instead of refunded.",
    "Staff note the time, the amount and the reason in the ledger.",
    "If anything is unclear, the assistant hands the question to a person.",
)


def _sentence(rng: random.Random) -> str:
    s = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_WHEN)}."
    if rng.random() < 0.5:
        s += " " + rng.choice(_EXTRA).format(n=rng.randint(2, 900))
    return s


def _paragraph(rng: random.Random, target_chars: int, limit: int) -> str:
    """Sentences until ``target_chars`` is reached, never longer than ``limit``."""
    text = _sentence(rng)
    while len(text) < target_chars:
        nxt = _sentence(rng)
        if len(text) + 1 + len(nxt) > limit:
            break
        text += " " + nxt
    return text


def write_corpus(
    folder: Path,
    *,
    files: int = 40,
    chunks: int = 400,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    seed: int = 7,
) -> int:
    """Write ``files`` handbook-like markdown files holding ``chunks`` paragraphs.

    Each file has one ``#`` title and ``##`` sections of two paragraphs. Every paragraph is
    55-95 % of ``chunk_size`` characters: a sentence or paragraph chunker of that size makes
    exactly one chunk of it (it is not split, and no two fit in one chunk).

    Args:
        folder: Where to write (created if missing).
        files: Number of markdown files.
        chunks: Total paragraphs across all files (spread evenly).
        chunk_size: The chunker's maximum chunk length in characters.
        seed: Random seed.

    Returns:
        The number of paragraphs written.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    low, high = int(0.55 * chunk_size), int(0.95 * chunk_size)
    written = 0
    for i in range(files):
        per_file = chunks // files + (1 if i < chunks % files else 0)
        topic = _TOPICS[i % len(_TOPICS)]
        lines = [f"# {topic.title()} handbook, part {i + 1}", ""]
        for p in range(per_file):
            if p % 2 == 0:
                lines += [f"## {topic.title()} rule {p // 2 + 1}", ""]
            lines += [_paragraph(rng, rng.randint(low, (low + high) // 2), high), ""]
            written += 1
        (folder / f"handbook-{i:03d}.md").write_text("\n".join(lines), encoding="utf-8")
    return written


def questions(n: int, seed: int = 5) -> list[str]:
    """``n`` distinct handbook-style questions in the vocabulary of :func:`write_corpus`."""
    rng = random.Random(seed)
    forms = (
        "When does {s} {v} {o}?",
        "Who {v} {o} for {t}?",
        "How are {o} and {t} handled?",
        "What happens after {s} {v} {o}?",
    )
    seen: set[str] = set()
    while len(seen) < n:
        s, v, o = rng.choice(_SUBJECTS).lower(), rng.choice(_VERBS), rng.choice(_OBJECTS)
        seen.add(rng.choice(forms).format(s=s, v=v, o=o, t=rng.choice(_TOPICS)))
    return sorted(seen, key=lambda _: rng.random())


@dataclass(frozen=True)
class VectorSet:
    """Clustered unit vectors with collection labels, plus held-out queries.

    Attributes:
        vectors: ``(n, dim)`` float32 unit rows (what gets stored).
        collections: Collection index of each row (see :func:`clustered_vectors`).
        queries: ``(q, dim)`` float32 unit rows drawn like ``vectors`` but not stored.
        query_clusters: Cluster of each query.
        topical_clusters: The first this many clusters make up the topical collection (their
            rows outside collection 0).
        spread: Noise norm relative to a cluster centre (before normalisation).
    """

    vectors: F32
    collections: npt.NDArray[np.int16]
    queries: F32
    query_clusters: npt.NDArray[np.int64]
    topical_clusters: int
    spread: float

    @property
    def topical_collection(self) -> int:
        """Index of the collection made of whole clusters (the last one)."""
        return int(self.collections.max())

    def on_topic(self) -> npt.NDArray[np.bool_]:
        """Mask of the queries drawn near a cluster of the topical collection."""
        result: npt.NDArray[np.bool_] = self.query_clusters < self.topical_clusters
        return result


def _unit(x: F32) -> F32:
    out: F32 = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    return out


#: Share of all rows in collection 0 (random rows) and in the topical collection 9.
BIG_SHARE = 0.10
#: Shares of all rows in collections 1..8 (random rows); the small ones (1-5 %) show where an
#: exact scan beats the HNSW index. With :data:`BIG_SHARE` and the topical 9 % they sum to 1.
RANDOM_SHARES = (0.01, 0.02, 0.03, 0.05, 0.175, 0.175, 0.175, 0.175)


def clustered_vectors(
    n: int,
    queries: int,
    *,
    dim: int = 384,
    clusters: int = 200,
    spread: float = 0.6,
    seed: int = 11,
) -> VectorSet:
    """Gaussian clusters on the unit sphere, like sentence embeddings of many topics.

    Each row is ``normalize(centre + spread * g / sqrt(dim))`` with ``g`` standard normal and a
    random centre out of ``clusters``; queries are drawn the same way. Ten collections:

    * ``0`` takes 10 % of the rows at random, independently of their cluster: a filter on it
      removes rows from every neighbourhood alike (the filtered target of the issue);
    * ``9`` (topical) takes the other rows of the first 10 % of the clusters: a filter on it
      keeps whole neighbourhoods and removes all others (a collection about one subject);
    * ``1`` .. ``8`` share the rest at random with the shares of :data:`RANDOM_SHARES`.

    Args:
        n: Stored rows.
        queries: Held-out query rows.
        dim: Dimension (384 = all-MiniLM-L6-v2).
        clusters: Number of cluster centres.
        spread: Noise norm relative to the (unit) centre.
        seed: Random seed.

    Returns:
        The generated set.
    """
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((clusters, dim), dtype=np.float32))
    scale = np.float32(spread / np.sqrt(dim))

    def draw(count: int) -> tuple[F32, npt.NDArray[np.int64]]:
        out = np.empty((count, dim), dtype=np.float32)
        which = rng.integers(0, clusters, count)
        step = 20_000
        for start in range(0, count, step):
            part = which[start : start + step]
            noise = rng.standard_normal((len(part), dim), dtype=np.float32) * scale
            out[start : start + len(part)] = _unit(centres[part] + noise)
        return out, which

    (vectors, row_clusters), (held_out, query_clusters) = draw(n), draw(queries)
    topical = max(1, clusters // 10)
    shares = np.asarray(RANDOM_SHARES)
    labels = (1 + rng.choice(len(shares), size=n, p=shares / shares.sum())).astype(np.int16)
    labels[row_clusters < topical] = len(shares) + 1
    labels[rng.random(n) < BIG_SHARE] = 0  # drawn last: independent of everything else
    return VectorSet(vectors, labels, held_out, query_clusters, topical, spread)


def exact_top_k(
    vectors: F32, queries: F32, k: int, mask: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.int64]:
    """Row indices of the ``k`` nearest rows by cosine (dot product of unit rows), best first.

    Args:
        vectors: ``(n, d)`` unit rows.
        queries: ``(q, d)`` unit rows.
        k: Neighbours per query.
        mask: Only rows where this is True are candidates.

    Returns:
        ``(q, k)`` row indices into ``vectors``.
    """
    index = np.arange(len(vectors)) if mask is None else np.flatnonzero(mask)
    sims = queries @ vectors[index].T
    k = min(k, len(index))
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(-sims, part, axis=1).argsort(axis=1, kind="stable")
    result: npt.NDArray[np.int64] = index[np.take_along_axis(part, order, axis=1)]
    return result
