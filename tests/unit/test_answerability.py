"""The answerability decision (knowledge/answerability.py) and its use by the retriever."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.testing import HashingEmbedder
from knowledge.answerability import (
    FEATURES,
    MODEL_PATH,
    AnswerabilityError,
    AnswerabilityModel,
    content_terms,
    default_model,
    features,
    load_model,
)
from knowledge.retriever import Retriever
from knowledge.store.base import DocumentRef
from knowledge.store.memory import InMemoryVectorStore
from knowledge.types import Chunk


@dataclass(frozen=True)
class _P:
    text: str
    similarity: float
    heading_path: tuple[str, ...] = ()


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


def test_content_terms_drop_stopwords_and_fold_plurals() -> None:
    assert content_terms("What are the fees for the policies?") == {"fee", "policy"}


def test_features_overlap_and_uncovered_terms() -> None:
    ranked = [
        _P("The deposit is 30 percent.", 0.61, ("Booking", "Deposits")),
        _P("Parking is free at the gallery.", 0.40),
    ]
    top_sim, best, uncovered = features("deposit for a sauna booking", ranked)
    assert top_sim == pytest.approx(0.61)
    assert best == pytest.approx(2 / 3)  # deposit + booking (heading) of deposit/sauna/booking
    assert uncovered == pytest.approx(1 / 3)  # sauna is in no passage
    assert features("anything", []) == [0.0, 0.0, 1.0]
    assert features("what is it", ranked)[1:] == [0.0, 1.0]  # no content words


def test_probability_is_a_logistic_of_standardised_features() -> None:
    m = _model(0.5)
    assert m.probability([0.0, 0.0, 0.0]) == pytest.approx(0.5)
    assert m.probability([1.0, 1.0, 0.0]) > m.probability([0.5, 0.2, 0.8])
    assert m.answerable("deposit", [_P("deposit", 0.9)])
    assert not m.answerable("deposit", [])


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
    on_topic = [_P("A deposit of 30% secures a one-to-one session.", 0.72, ("Deposits",))]
    off_topic = [_P("Gallery opening hours are Tuesday to Sunday.", 0.18, ("Hours",))]
    assert model.answerable("How much is the deposit for a one-to-one session?", on_topic)
    assert not model.answerable("What is the boiling point of tungsten in kelvin?", off_topic)


async def _retriever(model: AnswerabilityModel) -> Retriever:
    store = InMemoryVectorStore()
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
