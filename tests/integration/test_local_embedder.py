"""The real all-MiniLM-L6-v2 from the bundled package, loaded once for the session (~7 s)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from knowledge.embedding.cache import CachedEmbedder
from knowledge.embedding.local import (
    EmbedderUnavailableError,
    SentenceTransformerEmbedder,
    raw_encode_rate,
)
from tests.contracts.embedder import SAMPLE_TEXTS, EmbedderContract

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEMANTIC_TRIPLES = [
    (
        "How do I cancel my massage booking?",
        "Cancellations must be made 24 hours before your session",
        "The gallery sells consigned paintings",
    ),
    (
        "Can I get my money back?",
        "Refunds are issued to the original payment method",
        "Exhibitions open on the first Friday of the month",
    ),
    (
        "Who do I talk to about a consulting project?",
        "Consulting engagements begin with a scoping call",
        "Aromatherapy oils are available at the front desk",
    ),
]


class TestSentenceTransformerContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, local_embedder: SentenceTransformerEmbedder) -> SentenceTransformerEmbedder:
        return local_embedder

    def semantic_triples(self) -> list[tuple[str, str, str]]:
        return SEMANTIC_TRIPLES


class TestCachedSentenceTransformerContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, local_embedder: SentenceTransformerEmbedder) -> CachedEmbedder:
        return CachedEmbedder(local_embedder)

    def semantic_triples(self) -> list[tuple[str, str, str]]:
        return SEMANTIC_TRIPLES


def test_bundled_model_identity(local_embedder: SentenceTransformerEmbedder) -> None:
    assert local_embedder.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert local_embedder.dimension == 384
    assert local_embedder.loaded


def test_batches_larger_than_batch_size(local_embedder: SentenceTransformerEmbedder) -> None:
    texts = [f"{t} ({i})" for i in range(20) for t in SAMPLE_TEXTS[:4]]  # 80 > batch 64
    batch = local_embedder.embed_documents(texts)
    assert batch.shape == (80, 384)
    np.testing.assert_allclose(batch[70], local_embedder.embed_documents([texts[70]])[0], atol=1e-5)


def test_concurrent_calls_match_serial(local_embedder: SentenceTransformerEmbedder) -> None:
    expected = local_embedder.embed_documents(SAMPLE_TEXTS)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: local_embedder.embed_documents(SAMPLE_TEXTS), range(8)))
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_raw_encode_rate_is_positive(local_embedder: SentenceTransformerEmbedder) -> None:
    assert raw_encode_rate(local_embedder, SAMPLE_TEXTS * 4) > 0
    with pytest.raises(ValueError):
        raw_encode_rate(local_embedder, [])


def test_unknown_model_fails_fast_with_a_typed_error() -> None:
    embedder = SentenceTransformerEmbedder("grace-fields/no-such-model")
    with pytest.raises(EmbedderUnavailableError, match="no-such-model"):
        embedder.embed_query("hello")
    assert not embedder.loaded


def test_missing_model_path_is_a_typed_error() -> None:
    embedder = SentenceTransformerEmbedder(model_path="/nonexistent/grace-model")
    with pytest.raises(EmbedderUnavailableError):
        _ = embedder.dimension
