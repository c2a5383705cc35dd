"""Atlas's retriever.

Dense + full-text candidates ranked by cosine similarity plus IDF-weighted term coverage, an
answerability decision (or, when a caller asks for one, a plain similarity threshold) below
which nothing is returned, optional MMR diversification, and citations.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from knowledge.answerability import AnswerabilityModel, default_model, features
from knowledge.embedding.base import Embedder, Vector
from knowledge.store.base import ScoredChunk, SearchFilters, VectorStore

#: Rank constant of reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009: k = 60).
RRF_K = 60

#: Weight of the IDF-weighted term coverage added to the cosine similarity when ranking. Chosen
#: on the Atlas dev split and ``evals/datasets/retrieval.jsonl`` together (2026-12-04; grid 0.1
#: to 0.8): 0.3 gave dev hit@5 0.842 (RRF with text weight 0.3: 0.811), MRR 0.616 (0.538) and
#: retrieval-set hit@5 0.841 (0.698); 0.5 and above lost on the retrieval set. Adding the RRF
#: score on top lowered both.
COVERAGE_WEIGHT = 0.3


@dataclass(frozen=True)
class RetrievalConfig:
    """Retriever knobs.

    Attributes:
        k: Passages returned.
        threshold: ``None`` (default): the calibrated answerability model
            (:mod:`knowledge.answerability`, fitted on the Atlas eval set's dev split) decides
            from the ranked candidates whether the knowledge base answers the question at all;
            if not, the retriever returns nothing (Atlas says it does not know), else the top
            ``k``. A number: the older plain rule, passages whose cosine similarity to the
            query is below it are dropped (``-1.0`` keeps every candidate: ranking only). The
            single threshold it replaces was 0.35 (on ``evals/datasets/retrieval.jsonl``: 92 %
            of answerable questions kept, 25 % of unanswerable ones abstained).
        hybrid: Rank the union of the dense and full-text candidates by cosine similarity
            plus ``coverage_weight`` times their IDF-weighted coverage of the question's terms
            (:meth:`knowledge.store.base.TermStats.coverage`) instead of similarity alone.
        candidates: Results fetched from each search (dense, full text) before ranking.
        coverage_weight: See ``hybrid`` and :data:`COVERAGE_WEIGHT`.
        mmr: Re-rank the survivors with maximal marginal relevance.
        mmr_lambda: MMR trade-off, 1.0 = pure relevance (Carbonell & Goldstein, SIGIR 1998).
    """

    k: int = 5
    threshold: float | None = None
    hybrid: bool = True
    candidates: int = 30
    coverage_weight: float = COVERAGE_WEIGHT
    mmr: bool = False
    mmr_lambda: float = 0.7


@dataclass(frozen=True)
class Citation:
    """Where a passage comes from.

    ``source`` is the stored source (for files an absolute server path): show it through
    :mod:`knowledge.citations`, which gives clients a logical source and a heading label
    instead. ``collection`` and ``heading_path`` are empty in citations recorded before they
    were added.
    """

    document_id: str
    title: str
    section: str | None
    source: str
    chunk_id: int
    score: float
    collection: str = ""
    heading_path: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Citations come back from JSON (graph state, the retrieval cache) with lists.
        object.__setattr__(self, "heading_path", tuple(self.heading_path))

    def label(self) -> str:
        """Short human label: ``Title / Section``."""
        return f"{self.title} / {self.section}" if self.section else self.title


@dataclass(frozen=True)
class Passage:
    """A retrieved passage.

    Attributes:
        text: The chunk text.
        citation: Document, section, source, chunk id and similarity.
        similarity: Cosine similarity to the query.
        fused_score: Ranking score: similarity plus weighted term coverage (dense-only
            retrieval: equal to ``similarity``).
        collection: The document's collection.
    """

    text: str
    citation: Citation
    similarity: float
    fused_score: float
    collection: str
    heading_path: tuple[str, ...] = field(default=())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        """Inverse of :meth:`to_dict` (passages travel through graph state as dicts)."""
        return cls(
            text=data["text"],
            citation=Citation(**data["citation"]),
            similarity=float(data["similarity"]),
            fused_score=float(data["fused_score"]),
            collection=data["collection"],
            heading_path=tuple(data.get("heading_path", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return {
            "text": self.text,
            "similarity": round(self.similarity, 4),
            "fused_score": round(self.fused_score, 6),
            "collection": self.collection,
            "heading_path": list(self.heading_path),
            "citation": self.citation.__dict__,
        }


class Retriever:
    """Finds the passages that answer a question, or nothing.

    Args:
        store: Where chunks live.
        embedder: The model the chunks were embedded with (queries use the same one).
        config: Defaults for every call.
        answerability: The answerability model (default: the shipped one, read on first use).
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        answerability: AnswerabilityModel | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self._answerability = answerability

    @property
    def answerability(self) -> AnswerabilityModel:
        """The model deciding answerability when no explicit threshold is given.

        Raises:
            knowledge.answerability.AnswerabilityError: the shipped model file is unreadable.
        """
        if self._answerability is None:
            self._answerability = default_model()
        return self._answerability

    async def retrieve(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: SearchFilters | None = None,
        threshold: float | None = None,
        hybrid: bool | None = None,
        mmr: bool | None = None,
    ) -> list[Passage]:
        """Return up to ``k`` passages, best first, or none when the question is not answered.

        Args:
            query: The question.
            k: Overrides :attr:`RetrievalConfig.k`.
            filters: Collection / content type / source restrictions.
            threshold: Overrides :attr:`RetrievalConfig.threshold` (``None``: the config's;
                a number: plain cosine cut-off instead of the answerability decision).
            hybrid: Overrides :attr:`RetrievalConfig.hybrid`.
            mmr: Overrides :attr:`RetrievalConfig.mmr`.

        Returns:
            Passages with citations; empty when the question is judged unanswerable (or, with
            a numeric threshold, when nothing is similar enough).
        """
        cfg = self.config
        k = cfg.k if k is None else k
        threshold = cfg.threshold if threshold is None else threshold
        hybrid = cfg.hybrid if hybrid is None else hybrid
        mmr = cfg.mmr if mmr is None else mmr
        if not query.strip() or k <= 0:
            return []
        qv = await asyncio.to_thread(self.embedder.embed_query, query)
        return await self.retrieve_by_vector(
            query, qv, k=k, filters=filters, threshold=threshold, hybrid=hybrid, mmr=mmr
        )

    async def retrieve_by_vector(
        self,
        query: str,
        qv: Vector,
        *,
        k: int,
        filters: SearchFilters | None,
        threshold: float | None,
        hybrid: bool,
        mmr: bool,
    ) -> list[Passage]:
        """:meth:`retrieve` with the query already embedded (``qv``: unit vector)."""
        ranking = await self.rank(query, qv, filters=filters, hybrid=hybrid, k=k)
        if threshold is None:
            if not ranking.passages or not self.answerability.answerable(ranking.features()):
                return []
            keep = list(ranking.passages)
        else:
            keep = [p for p in ranking.passages if p.similarity >= threshold]
        if mmr and keep:
            by_id = {p.citation.chunk_id: p for p in keep}
            order = maximal_marginal_relevance(
                list(by_id),
                {cid: ranking.embeddings.get(cid) for cid in by_id},
                {cid: p.similarity for cid, p in by_id.items()},
                k,
                self.config.mmr_lambda,
            )
            keep = [by_id[cid] for cid in order]
        return keep[:k]

    async def rank(
        self,
        query: str,
        qv: Vector,
        *,
        filters: SearchFilters | None = None,
        hybrid: bool | None = None,
        k: int | None = None,
    ) -> Ranking:
        """Every candidate, ranked, with the evidence the answerability decision reads.

        Candidates are the top :attr:`RetrievalConfig.candidates` (at least ``k``) of the dense
        and of the full-text search; with ``hybrid`` each is scored ``similarity +
        coverage_weight * coverage``, else by similarity alone. No threshold is applied.
        """
        hybrid = self.config.hybrid if hybrid is None else hybrid
        n = max(self.config.candidates, k or 0)
        model = self.embedder.model
        dense = await self.store.search(qv, model=model, k=n, filters=filters, with_embeddings=True)
        lexical: list[ScoredChunk] = []
        if hybrid:
            lexical = await self.store.text_search(
                query, k=n, filters=filters, model=model, with_embeddings=True
            )
        sims: dict[int, float] = {c.chunk_id: c.score for c in dense}
        chunks: dict[int, ScoredChunk] = {c.chunk_id: c for c in dense}
        for c in lexical:
            chunks.setdefault(c.chunk_id, c)
            if c.chunk_id not in sims and c.embedding is not None:
                sims[c.chunk_id] = float(np.dot(c.embedding, qv))
        stats = await self.store.term_stats(query, list(sims), filters=filters, model=model)
        weight = self.config.coverage_weight if hybrid else 0.0
        coverage = {cid: stats.coverage(cid) for cid in sims}
        score = {cid: sims[cid] + weight * coverage[cid] for cid in sims}
        order = sorted(score, key=lambda cid: (-score[cid], cid))
        return Ranking(
            passages=tuple(_passage(chunks[cid], sims[cid], score[cid]) for cid in order),
            coverages=tuple(coverage[cid] for cid in order),
            absent_share=stats.absent_share(),
            embeddings={cid: chunks[cid].embedding for cid in order},
        )


@dataclass(frozen=True)
class Ranking:
    """All candidates of one query, best first, and the answerability evidence.

    Attributes:
        passages: Candidates in ranked order (no threshold applied).
        coverages: Each passage's IDF-weighted coverage of the query's terms (0..1).
        absent_share: IDF-weighted share of the query's terms absent from the collection.
        embeddings: Candidate vectors by chunk id (for MMR; ``None`` where the store gave none).
    """

    passages: tuple[Passage, ...]
    coverages: tuple[float, ...]
    absent_share: float
    embeddings: dict[int, Vector | None] = field(default_factory=dict, repr=False)

    def features(self) -> list[float]:
        """The answerability features (:func:`knowledge.answerability.features`)."""
        return features(
            [p.similarity for p in self.passages], list(self.coverages), self.absent_share
        )


def reciprocal_rank_fusion(
    rankings: list[list[int]], k: int = RRF_K, weights: list[float] | None = None
) -> dict[int, float]:
    """Fuse ranked id lists: ``score(d) = sum over lists of w / (k + rank(d))``, rank from 1.

    Source: Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and
    individual Rank Learning Methods", SIGIR 2009 (unweighted, ``w = 1``). Per-list weights are
    the common weighted variant used by hybrid search engines.
    """
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, cid in enumerate(ranking, start=1):
            scores[cid] = scores.get(cid, 0.0) + w / (k + rank)
    return scores


def maximal_marginal_relevance(
    ids: list[int],
    vectors: dict[int, Vector | None],
    relevance: dict[int, float],
    k: int,
    lam: float,
) -> list[int]:
    """Greedy MMR: pick ``argmax lam * rel(d) - (1 - lam) * max_sim(d, selected)``.

    Source: Carbonell & Goldstein, "The use of MMR, diversity-based reranking for reordering
    documents and producing summaries", SIGIR 1998. Ids without a vector keep their order.
    """
    pool = [i for i in ids if vectors.get(i) is not None]
    chosen: list[int] = []
    while pool and len(chosen) < k:
        best, best_score = pool[0], -np.inf
        for cid in pool:
            v = vectors[cid]
            assert v is not None
            redundancy = max((float(np.dot(v, vectors[s])) for s in chosen), default=0.0)  # type: ignore[arg-type]
            score = lam * relevance[cid] - (1 - lam) * redundancy
            if score > best_score:
                best, best_score = cid, score
        chosen.append(best)
        pool.remove(best)
    return chosen + [i for i in ids if i not in chosen]


def _passage(c: ScoredChunk, similarity: float, fused: float) -> Passage:
    return Passage(
        text=c.text,
        citation=Citation(
            document_id=str(c.document_id),
            title=c.title,
            section=c.section,
            source=c.source,
            chunk_id=c.chunk_id,
            score=round(similarity, 4),
            collection=c.collection,
            heading_path=tuple(c.heading_path),
        ),
        similarity=similarity,
        fused_score=fused,
        collection=c.collection,
        heading_path=c.heading_path,
    )
