"""The answerability decision (knowledge/answerability.py) and its use by the retriever."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from agents.testing import HashingEmbedder
from knowledge.answerability import (
    FEATURES,
    MODEL_PATH,
    AnswerabilityError,
    AnswerabilityModel,
    default_model,
    features,
    load_model,
)
from knowledge.retriever import Retriever
from knowledge.store.base import DocumentRef, TermStats
from knowledge.store.memory import InMemoryVectorStore
from knowledge.types import Chunk


def _model(cut: float, coef: tuple[float, ...] = (1.0, 1.0, -1.0)) -> AnswerabilityModel:
    return AnswerabilityModel(
        version="t",
        features=FEATURES,
        mean=(0.0,) * 3,
        scale=(1.0,) * 3,
        coef=coef,
        intercept=0.0,
        cut=cut,
    )


def test_features_read_similarity_coverage_and_absent_terms() -> None:
    sims = [0.5, 0.61, 0.2] + [0.9] * 10  # only the first FEATURE_DEPTH similarities count
    covs = [0.1, 0.7, 0.0, 0.0, 0.0, 1.0]  # only the first OVERLAP_DEPTH coverages count
    top_sim, best, absent = features(sims[:3], covs, 0.25)
    assert (top_sim, best, absent) == (pytest.approx(0.61), pytest.approx(0.7), 0.25)
    assert features(sims, covs, 0.0)[:2] == [0.9, 0.7]
    assert features([], [], 0.0) == [0.0, 0.0, 1.0]


def test_term_stats_weigh_rare_terms_and_find_absent_ones() -> None:
    # 10 chunks: "deposit" in one, "booking" in all of them, "sauna" in none.
    stats = TermStats(
        chunks=10,
        df={"deposit": 1, "booking": 10, "sauna": 0},
        present={1: frozenset({"deposit", "booking"}), 2: frozenset({"booking"})},
    )
    assert stats.idf("sauna") > stats.idf("deposit") > stats.idf("booking") > 0
    total = sum(stats.idf(t) for t in ("deposit", "booking", "sauna"))
    assert stats.coverage(1) == pytest.approx((stats.idf("deposit") + stats.idf("booking")) / total)
    assert stats.coverage(2) < stats.coverage(1) and stats.coverage(99) == 0.0
    assert stats.absent_share() == pytest.approx(stats.idf("sauna") / total)
    # Fragments and references ("m" of "I'm", "-2041" of "B-2041") are not rare words.
    noisy = TermStats(chunks=10, df={**stats.df, "m": 0, "-2041": 0, "b": 0}, present=stats.present)
    assert noisy.terms == ["deposit", "booking", "sauna"]
    assert noisy.absent_share() == stats.absent_share()
    empty = TermStats(chunks=10, df={}, present={})
    assert empty.coverage(1) == 0.0 and empty.absent_share() == 0.0


async def test_memory_store_term_stats() -> None:
    store = InMemoryVectorStore()
    embedder = HashingEmbedder()
    retriever = await _retriever(_model(cut=0.0), store)
    ranking = await retriever.rank("sauna deposit", embedder.embed_query("sauna deposit"))
    assert ranking.absent_share > 0  # "sauna" is in no chunk
    best = ranking.passages[ranking.coverages.index(max(ranking.coverages))]
    assert best.text == "The deposit is thirty percent."
    stats = await store.term_stats("sauna deposit", [best.citation.chunk_id])
    assert stats.chunks == 2 and stats.df == {"sauna": 0, "deposit": 1}


def test_probability_is_a_logistic_of_standardised_features() -> None:
    m = _model(0.5)
    assert m.probability([0.0, 0.0, 0.0]) == pytest.approx(0.5)
    assert m.probability([1.0, 1.0, 0.0]) > m.probability([0.5, 0.2, 0.8])
    assert m.answerable([0.9, 0.8, 0.0])
    assert not m.answerable([0.1, 0.0, 1.0])


def test_shipped_model_loads_and_matches_the_code(tmp_path: Path) -> None:
    model = load_model(MODEL_PATH)
    assert model.features == FEATURES and 0.0 < model.cut < 1.0
    assert "dev split" in model.source
    assert default_model() == model
    data = json.loads(MODEL_PATH.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**data, "features": ["top_similarity"]}))
    with pytest.raises(AnswerabilityError, match="differ"):
        load_model(bad)
    bad.write_text(json.dumps({**data, "scale": [1.0, 0.0, 1.0]}))
    with pytest.raises(AnswerabilityError, match="positive"):
        load_model(bad)
    with pytest.raises(AnswerabilityError, match="cannot read"):
        load_model(tmp_path / "missing.json")


def test_shipped_model_separates_an_obvious_pair() -> None:
    model = default_model()
    # A close passage holding the question's rare terms vs a distant one, terms unknown.
    assert model.answerable(features([0.72, 0.5], [0.9, 0.3], 0.0))
    assert not model.answerable(features([0.18], [0.0], 0.8))


async def _retriever(
    model: AnswerabilityModel, store: InMemoryVectorStore | None = None
) -> Retriever:
    store = store or InMemoryVectorStore()
    embedder = HashingEmbedder()
    doc = DocumentRef(
        id=uuid.uuid4(), collection="c", source="a.md", title="A", content_type="text/markdown"
    )
    texts = ["The deposit is thirty percent.", "Parking is free."]
    chunks = [Chunk(t, i, 0, len(t), ("A",)) for i, t in enumerate(texts)]
    await store.replace_chunks(doc, chunks, embedder.embed_documents(texts), model=embedder.model)
    store.set_servable(doc.id)
    return Retriever(store, embedder, answerability=model)


async def test_retriever_abstains_when_the_model_says_unanswerable() -> None:
    never = await _retriever(_model(cut=1.1))  # no probability reaches 1.1
    always = await _retriever(_model(cut=0.0))
    assert await never.retrieve("deposit percent") == []
    assert [p.text for p in await always.retrieve("deposit percent", k=1)] == [
        "The deposit is thirty percent."
    ]
    # An explicit threshold is the plain cosine rule: the model is not consulted.
    assert len(await never.retrieve("deposit percent", threshold=-1.0)) == 2
