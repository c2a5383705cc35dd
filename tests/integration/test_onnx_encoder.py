"""The ONNX encoder is a drop-in for sentence-transformers: stored vectors stay valid.

The default local embedder runs all-MiniLM-L6-v2 through onnxruntime; document vectors
written by the sentence-transformers embedder before must keep matching queries embedded now
(and the other way round). Checked on the shipped handbook's real chunks (long texts past the
256-token truncation, mixed lengths in one padded batch) and in the Embedder contract suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge.starter import starter_corpus_dir
from tests.contracts.embedder import EmbedderContract
from tests.integration.test_local_embedder import SEMANTIC_TRIPLES

pytestmark = pytest.mark.integration

#: Largest elementwise difference allowed between the two backends' unit vectors.
ATOL = 1e-5


@pytest.fixture(scope="module")
def onnx_encoder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from knowledge.embedding.onnx import OnnxEncoder

    encoder = OnnxEncoder(tmp_path_factory.mktemp("models"))
    encoder.warmup()
    return encoder


def _handbook_texts() -> list[str]:
    texts: list[str] = []
    for path in sorted((starter_corpus_dir() / "handbook").glob("*.md")):
        body = path.read_text(encoding="utf-8")
        texts.append(body)  # a whole file: far past the 256-token limit, truncated alike
        texts += [p.strip() for p in body.split("\n\n") if len(p.strip()) > 40][:6]  # passages
    return texts


def test_handbook_vectors_match_sentence_transformers(
    onnx_encoder: Any, local_embedder: Any
) -> None:
    texts = _handbook_texts()
    assert len(texts) > 40 and max(map(len, texts)) > 3000
    stored = local_embedder.embed_documents(texts)  # what an older ingest wrote
    now = onnx_encoder.embed_documents(texts)
    np.testing.assert_allclose(now, stored, atol=ATOL)
    assert float(np.min(np.sum(now * stored, axis=1))) > 1 - 1e-6  # cosine
    for text in texts[:5]:  # queries against stored documents rank the same
        q_onnx, q_torch = onnx_encoder.embed_query(text[:80]), local_embedder.embed_query(text[:80])
        np.testing.assert_allclose(q_onnx, q_torch, atol=ATOL)
        top_onnx = np.argsort(-(stored @ q_onnx))[:5]
        assert np.array_equal(top_onnx, np.argsort(-(stored @ q_torch))[:5])


def test_batching_does_not_change_vectors(onnx_encoder: Any) -> None:
    texts = _handbook_texts()[:20]
    together = onnx_encoder.embed_documents(texts)
    one_by_one = np.stack([onnx_encoder.embed_query(t) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=ATOL)


class TestOnnxEncoderContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, onnx_encoder: Any) -> Any:
        return onnx_encoder

    def semantic_triples(self) -> list[tuple[str, str, str]]:
        return SEMANTIC_TRIPLES


def test_onnx_file_is_reused(onnx_encoder: Any, tmp_path: Path) -> None:
    from knowledge.embedding.onnx import OnnxEncoder

    path = onnx_encoder.onnx_path()
    before = path.stat().st_mtime_ns
    again = OnnxEncoder(onnx_encoder.cache_dir)
    again.load()
    assert again.onnx_path() == path and path.stat().st_mtime_ns == before
