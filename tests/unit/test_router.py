"""Router scoring, calibration and decision logic with the deterministic hashing embedder."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.registry import PersonaRegistry, UnknownPersonaError
from agents.router import LocalRouter, RoutingDecision, split_clauses
from agents.router_model import RouterModel, training_examples, word_tokens
from graphs.workflows.model import PERSONAS
from knowledge.embedding.local import EmbedderUnavailableError
from tests.contracts.embedder import HashingEmbedder

TINY = [
    ("book a massage appointment", "solari"),
    ("reserve the painting for me", "solari"),
    ("draft a blog post", "elan"),
    ("write the newsletter copy", "elan"),
    ("segment the audience data", "zevi"),
    ("what is the open rate trend", "zevi"),
    ("new client inquiry", "nyra"),
    ("task with a deadline", "ruvo"),
    ("plan the marketing campaign", "liora"),
    ("community members meetup", "sage"),
    ("what is the refund policy", "atlas"),
]


@pytest.fixture(scope="module")
def registry() -> PersonaRegistry:
    return PersonaRegistry.load()


@pytest.fixture(scope="module")
def router(registry: PersonaRegistry) -> LocalRouter:
    return LocalRouter(registry, HashingEmbedder(256))


@pytest.fixture(scope="module")
def tiny() -> RouterModel:
    return RouterModel.fit(TINY, HashingEmbedder(64))


def test_training_examples_come_from_product_data(registry: PersonaRegistry) -> None:
    examples = training_examples(registry)
    by_persona = {name: [t for t, who in examples if who == name] for name in PERSONAS}
    assert all(len(texts) > 40 for texts in by_persona.values())
    assert {who for _, who in examples} == set(PERSONAS)
    # out-of-scope hand-offs ("...; Ruvo handles those") and owned transitions are included
    assert ("follow-up task lists, owners and deadlines", "ruvo") in examples
    assert ("Consulting engagement: invoice sent", "ruvo") in examples
    assert not any(t.startswith("Agent message security") for t, _ in examples)  # system-owned


def test_word_tokens_strip_common_suffixes() -> None:
    assert word_tokens("Booking booked BOOKS") == ["book", "book", "book"]
    assert word_tokens("is it ok") == ["is", "it", "ok"]


def test_probabilities_are_calibrated_distributions(tiny: RouterModel) -> None:
    probs = tiny.predict(["book a massage", "blog post draft", "zzz"])
    assert probs.shape == (3, len(PERSONAS))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert PERSONAS[int(probs[0].argmax())] == "solari"
    assert PERSONAS[int(probs[1].argmax())] == "elan"


def test_temperature_sharpens_or_flattens(tiny: RouterModel) -> None:
    examples = TINY
    sharp = RouterModel.fit(examples, HashingEmbedder(64), temperature=0.25)
    flat = RouterModel.fit(examples, HashingEmbedder(64), temperature=4.0)
    text = ["book a massage appointment"]
    assert sharp.predict(text).max() > tiny.predict(text).max() > flat.predict(text).max()
    # same ranking: temperature rescales logits, it never reorders them
    np.testing.assert_array_equal(
        np.argsort(sharp.logits(text)[0]), np.argsort(flat.logits(text)[0])
    )


def test_logits_are_the_weighted_log_pool(tiny: RouterModel) -> None:
    only_chars = RouterModel.fit(TINY, HashingEmbedder(64), weights=(0.0, 1.0, 0.0))
    text = ["segment the data"]
    member = only_chars._members[1]
    chars = member.linear.log_proba(member.vectorizer.transform(text))
    np.testing.assert_allclose(only_chars.logits(text), chars / only_chars.temperature)


@pytest.mark.parametrize("text", ["Book a mssage, pls!", "segment the data", "zzz", ""])
def test_fast_lexical_features_equal_sklearn(tiny: RouterModel, text: str) -> None:
    for member in tiny._members[1:]:
        expected = member.vectorizer.transform([text]).toarray()[0]
        idx, values = member.features(text)
        got = np.zeros_like(expected)
        got[idx] = values
        np.testing.assert_allclose(got, expected, atol=1e-12)
        np.testing.assert_allclose(
            member.log_proba([text]), member.linear.log_proba(member.vectorizer.transform([text]))
        )


def test_persona_name_adds_fixed_evidence() -> None:
    plain = RouterModel.fit(TINY, HashingEmbedder(64), name_evidence=0.0)
    named = RouterModel.fit(TINY, HashingEmbedder(64))
    text = ["could Zevi and @solari look at this"]
    diff = named.logits(text)[0] - plain.logits(text)[0]
    expected = np.zeros(len(PERSONAS))
    expected[PERSONAS.index("zevi")] = expected[PERSONAS.index("solari")] = math.log(4.0)
    np.testing.assert_allclose(diff, expected, atol=1e-9)
    # a name inside another word does not count
    np.testing.assert_allclose(
        named.logits(["zevis in the solarium"]), plain.logits(["zevis in the solarium"])
    )


def test_fit_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="not among"):
        RouterModel.fit([*TINY, ("x", "bob")], HashingEmbedder(64))
    with pytest.raises(ValueError, match="every persona"):
        RouterModel.fit([t for t in TINY if t[1] != "sage"], HashingEmbedder(64))
    with pytest.raises(ValueError, match="temperature"):
        RouterModel.fit(TINY, HashingEmbedder(64), temperature=0)


@pytest.mark.parametrize(
    ("message", "clauses"),
    [
        ("book me a massage", ["book me a massage"]),
        (
            "Can you rebook my Friday massage, and also do you validate parking?",
            ["Can you rebook my Friday massage", "do you validate parking?"],
        ),
        (
            "Plan the launch campaign. Then draft the email copy; and send it Monday",
            ["Plan the launch campaign.", "Then draft the email copy", "and send it Monday"],
        ),
        ("thanks! ok and what time?", ["thanks! ok and what time?"]),
        ("I want the bowl, and can you gift wrap it", ["I want the bowl", "can you gift wrap it"]),
        ("bread and butter and jam", ["bread and butter and jam"]),
    ],
)
def test_split_clauses(message: str, clauses: list[str]) -> None:
    assert split_clauses(message) == clauses


def test_route_returns_a_consistent_decision(router: LocalRouter) -> None:
    d = router.route("Draft a blog post about the benefits of sound healing")
    assert isinstance(d, RoutingDecision)
    assert d.persona in PERSONAS and set(d.scores) == set(PERSONAS)
    assert d.confidence == d.scores[d.persona] == max(d.scores.values())
    assert math.isclose(sum(d.scores.values()), 1.0, abs_tol=1e-4)
    assert not d.sticky and d.reason.startswith(f"top {d.persona}")


def test_route_is_deterministic(router: LocalRouter, registry: PersonaRegistry) -> None:
    message = "Segment the consulting leads by industry, and also plan a campaign for them"
    again = LocalRouter(registry, HashingEmbedder(256))
    assert router.route(message) == router.route(message) == again.route(message)


def test_exemplars_route_home(router: LocalRouter, registry: PersonaRegistry) -> None:
    # training texts: even the hashing embedder plus lexical members must fit them
    hits = [router.route(x).persona == p.name for p in registry.personas for x in p.exemplars]
    assert sum(hits) / len(hits) > 0.9


def _variant(router: LocalRouter, **options: float) -> LocalRouter:
    """The same fitted router with other decision thresholds (no refit)."""
    clone = copy.copy(router)
    for name, value in options.items():
        setattr(clone, name, value)
    return clone


def test_sticky_margin_extremes(router: LocalRouter) -> None:
    message = "Draft a blog post about the benefits of sound healing"
    always = _variant(router, sticky_margin=1.0)
    never = _variant(router, sticky_margin=0.0)
    top = never.route(message).persona
    other = next(p for p in PERSONAS if p != top)
    stay = always.route(message, current=other)
    assert (stay.persona, stay.sticky) == (other, True)
    assert stay.confidence == stay.scores[other]
    assert "stayed with current" in stay.reason
    leave = never.route(message, current=other)
    assert (leave.persona, leave.sticky) == (top, False)
    assert f"left {other}" in leave.reason
    same = never.route(message, current=top)
    assert (same.persona, same.sticky) == (top, True)


def test_current_grace_means_no_persona_yet(router: LocalRouter) -> None:
    message = "Plan the content calendar for February"
    assert router.route(message, current="Grace") == router.route(message)


def test_unknown_current_and_empty_message(router: LocalRouter) -> None:
    with pytest.raises(UnknownPersonaError):
        router.route("hello", current="bob")
    with pytest.raises(ValueError, match="empty"):
        router.route("  \n ")


def test_multi_intent_needs_confident_distinct_clauses(router: LocalRouter) -> None:
    message = (
        "Write an Instagram caption for the new sculpture arrivals; "
        "and also what is your refund policy?"
    )
    eager = _variant(router, multi_intent_min_confidence=0.0)
    strict = _variant(router, multi_intent_min_confidence=1.0)
    d = eager.route(message)
    clause_tops = {
        PERSONAS[int(row.argmax())] for row in eager.probabilities(split_clauses(message))
    }
    assert d.multi_intent == (len(clause_tops) > 1)
    if d.multi_intent:
        assert d.secondary and d.persona not in d.secondary
        assert set(d.secondary) <= clause_tops
        assert "multi-intent" in d.reason
    off = strict.route(message)
    assert not off.multi_intent and off.secondary == ()


def test_invalid_options(registry: PersonaRegistry) -> None:
    with pytest.raises(ValueError):
        LocalRouter(registry, HashingEmbedder(64), sticky_margin=1.5)


def test_router_embedder_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agents import encoder as enc

    def refuse(self: enc.OnnxEncoder) -> None:
        raise EmbedderUnavailableError("no onnxruntime here")

    monkeypatch.setattr(enc.OnnxEncoder, "load", refuse)
    fallback = HashingEmbedder(32)
    assert enc.router_embedder(tmp_path, fallback) is fallback


def test_export_refuses_models_without_mean_pooling(tmp_path: Path) -> None:
    from agents.encoder import export_onnx

    (tmp_path / "modules.json").write_text('[{"type": "sentence_transformers.models.Pooling"}]')
    with pytest.raises(EmbedderUnavailableError, match="mean-pooled"):
        export_onnx(tmp_path, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_router_latency_scenario(router: LocalRouter) -> None:
    from evals.bench.chat import router_latency, routing_rows

    messages = [row["message"] for row in routing_rows()[:12]]
    scenario = router_latency(router, messages, name="router_fake", warmup=2)
    assert scenario.name == "router_fake" and scenario.latency.count == 12
    assert scenario.target == "p50 < 10 ms" and isinstance(scenario.met, bool)
    assert scenario.params["messages"] == 12
    with pytest.raises(ValueError):
        router_latency(router, messages[:1])


LEXICAL_SAMPLES = [
    "Book a mssage, pls!",
    "  Can I   move my Thursday\tmassage?  ",
    "a b",
    "",
    "Café crème — naïve façade 24h",
    "ok and what time?",
    "supercalifragilistic",
]


@pytest.mark.parametrize("text", LEXICAL_SAMPLES)
def test_plain_analyzers_equal_sklearn_analyzers(text: str) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from agents.router_model import char_ngrams, word_ngrams

    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5)).build_analyzer()
    words = TfidfVectorizer(
        tokenizer=word_tokens, token_pattern=None, ngram_range=(1, 2)
    ).build_analyzer()
    assert char_ngrams(text) == chars(text)
    assert word_ngrams(text) == words(text)


def test_fitted_router_is_cached_and_routes_the_same(
    registry: PersonaRegistry, router: LocalRouter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agents import router_model

    fits: list[int] = []
    real = router_model._fit_members

    def counted(*args: Any) -> Any:
        fits.append(1)
        return real(*args)

    monkeypatch.setattr(router_model, "_fit_members", counted)
    first = LocalRouter(registry, HashingEmbedder(256), cache_dir=tmp_path)
    loaded = LocalRouter(registry, HashingEmbedder(256), cache_dir=tmp_path)
    assert len(fits) == 1 and len(list(tmp_path.glob("router-*.pkl"))) == 1
    messages = ["Can I move my Thursday massage?", "ok and what time?", "draft a post; Zevi too"]
    for m in messages:
        assert loaded.route(m) == first.route(m) == router.route(m)
        assert loaded.route(m, current="atlas") == router.route(m, current="atlas")
    other = LocalRouter(registry, HashingEmbedder(128), cache_dir=tmp_path)  # another encoder
    assert len(fits) == 2 and other.route(messages[0]).persona


def test_cached_router_loads_and_routes_without_sklearn(
    registry: PersonaRegistry, tmp_path: Path
) -> None:
    import subprocess
    import sys

    LocalRouter(registry, HashingEmbedder(256), cache_dir=tmp_path)
    where = repr(str(tmp_path))
    code = (
        "import sys\n"
        "from agents.registry import PersonaRegistry\n"
        "from agents.router import LocalRouter\n"
        "from tests.contracts.embedder import HashingEmbedder\n"
        f"r = LocalRouter(PersonaRegistry.load(), HashingEmbedder(256), cache_dir={where})\n"
        "d = r.route('Can I move my Thursday massage?', current='atlas')\n"
        "print(d.persona, 'sklearn' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    persona, imported = out.stdout.split()
    assert persona in PERSONAS and imported == "False"


def test_router_shares_the_process_onnx_encoder(tmp_path: Path) -> None:
    from agents.encoder import OnnxEncoder, router_embedder
    from knowledge.embedding.cache import CachedEmbedder

    encoder = OnnxEncoder(tmp_path)
    assert router_embedder(tmp_path, CachedEmbedder(encoder)) is encoder  # one model in memory
    assert not encoder.loaded  # nothing loaded just to pick it
