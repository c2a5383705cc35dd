"""Behaviour every ``Embedder`` must have, written once and run on each implementation.

Subclass :class:`EmbedderContract` and override the ``embedder`` fixture (model: Haystack's
DocumentStore test mixins). Override ``semantic_triples`` to add the semantic sanity check and
``query_document_min_cosine`` for models that embed queries with a prompt.

:class:`agents.testing.HashingEmbedder` (the deterministic fake) passes it too.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from knowledge.embedding.base import Embedder

ATOL = 1e-5

SAMPLE_TEXTS = [
    "Cancellations must be made 24 hours before your session.",
    "The gallery sells consigned paintings on behalf of artists.",
    "Refunds are issued to the original payment method within ten days.",
    "Members book wellness sessions two weeks ahead.",
    "Café crème — 24 h 🎨 naïve façade",  # non-ASCII
    "a",
    "Consulting engagements start with a scoping call, a written proposal and a signed "
    "statement of work; invoices follow each milestone and are due within thirty days.",
]


class EmbedderContract:
    """Override the ``embedder`` fixture in a subclass."""

    query_document_min_cosine: ClassVar[float] = 1 - 1e-4

    @pytest.fixture
    def embedder(self) -> Any:
        raise NotImplementedError

    def semantic_triples(self) -> list[tuple[str, str, str]]:
        """``(query, related, unrelated)``: ``related`` must be closer; empty skips the check."""
        return []

    def test_satisfies_protocol(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.model, str) and embedder.model
        assert isinstance(embedder.dimension, int) and embedder.dimension > 0

    def test_documents_shape_dtype_unit_norm(self, embedder: Embedder) -> None:
        m = embedder.embed_documents(SAMPLE_TEXTS)
        assert isinstance(m, np.ndarray)
        assert m.shape == (len(SAMPLE_TEXTS), embedder.dimension)
        assert m.dtype == np.float32
        assert np.all(np.isfinite(m))
        np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=ATOL)

    def test_query_shape_dtype_unit_norm(self, embedder: Embedder) -> None:
        v = embedder.embed_query("How do I cancel a booking?")
        assert isinstance(v, np.ndarray)
        assert v.shape == (embedder.dimension,)
        assert v.dtype == np.float32
        assert abs(float(np.linalg.norm(v)) - 1.0) < ATOL

    def test_accepts_tuple(self, embedder: Embedder) -> None:
        assert embedder.embed_documents(tuple(SAMPLE_TEXTS[:2])).shape[0] == 2

    def test_empty_input(self, embedder: Embedder) -> None:
        m = embedder.embed_documents([])
        assert m.shape == (0, embedder.dimension)
        assert m.dtype == np.float32

    def test_single_str_is_rejected(self, embedder: Embedder) -> None:
        with pytest.raises(TypeError):
            embedder.embed_documents("not a list")

    def test_deterministic(self, embedder: Embedder) -> None:
        first = embedder.embed_documents(SAMPLE_TEXTS)
        second = embedder.embed_documents(SAMPLE_TEXTS)
        np.testing.assert_allclose(first, second, atol=ATOL)
        q1, q2 = embedder.embed_query(SAMPLE_TEXTS[0]), embedder.embed_query(SAMPLE_TEXTS[0])
        np.testing.assert_allclose(q1, q2, atol=ATOL)

    def test_batch_equals_one_by_one(self, embedder: Embedder) -> None:
        batch = embedder.embed_documents(SAMPLE_TEXTS)
        single = np.stack([embedder.embed_documents([t])[0] for t in SAMPLE_TEXTS])
        np.testing.assert_allclose(batch, single, atol=ATOL)

    def test_order_and_duplicates(self, embedder: Embedder) -> None:
        texts = [SAMPLE_TEXTS[1], SAMPLE_TEXTS[0], SAMPLE_TEXTS[1]]
        m = embedder.embed_documents(texts)
        np.testing.assert_allclose(m[0], m[2], atol=ATOL)
        np.testing.assert_allclose(m[1], embedder.embed_documents([SAMPLE_TEXTS[0]])[0], atol=ATOL)
        assert float(m[0] @ m[1]) < 0.99  # different texts, different vectors

    def test_query_and_document_share_a_space(self, embedder: Embedder) -> None:
        for text in SAMPLE_TEXTS[:3]:
            cosine = float(embedder.embed_query(text) @ embedder.embed_documents([text])[0])
            assert cosine >= self.query_document_min_cosine

    def test_semantic_sanity(self, embedder: Embedder) -> None:
        triples = self.semantic_triples()
        if not triples:
            pytest.skip("no semantic expectations for this embedder")
        for query, related, unrelated in triples:
            q = embedder.embed_query(query)
            docs = embedder.embed_documents([related, unrelated])
            near, far = float(docs[0] @ q), float(docs[1] @ q)
            assert near > far, f"{query!r}: related {near:.3f} <= unrelated {far:.3f}"
