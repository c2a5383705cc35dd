"""Embedders without a model or a network: fakes, the cache, OpenAI behind respx, the factory."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import respx

from agents.testing import HashingEmbedder
from graphs.core.settings import Settings
from knowledge.embedding import factory
from knowledge.embedding.cache import CachedEmbedder, CacheStats, text_hash
from knowledge.embedding.local import (
    EmbedderConfigurationError,
    EmbedderError,
    EmbedderUnavailableError,
    SentenceTransformerEmbedder,
)
from knowledge.embedding.openai import (
    EmbedderAuthenticationError,
    EmbedderRateLimitError,
    EmbedderRequestError,
    OpenAIEmbedder,
)
from tests.contracts.embedder import EmbedderContract

BASE_URL = "https://api.openai.com/v1"
WORD_TRIPLES = [
    ("cancel my massage booking", "massage booking cancellations", "consigned gallery paintings"),
    ("refund for a membership", "membership refund policy", "shipping framed artwork"),
]


class TestHashingEmbedderContract(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> HashingEmbedder:
        return HashingEmbedder()

    def semantic_triples(self) -> list[tuple[str, str, str]]:
        return WORD_TRIPLES


class TestCachedEmbedderContract(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> CachedEmbedder:
        return CachedEmbedder(HashingEmbedder(), max_entries=4)  # small: eviction under load

    def semantic_triples(self) -> list[tuple[str, str, str]]:
        return WORD_TRIPLES


def test_cache_sends_only_misses_once_in_order() -> None:
    inner = HashingEmbedder()
    cached = CachedEmbedder(inner)
    cached.embed_documents(["a", "b"])
    out = cached.embed_documents(["c", "a", "d", "c", "b", "d"])
    assert inner.calls == [["a", "b"], ["c", "d"]]
    np.testing.assert_array_equal(
        out, HashingEmbedder().embed_documents(["c", "a", "d", "c", "b", "d"])
    )
    assert (cached.hits, cached.misses) == (4, 4)
    assert cached.stats() == CacheStats(hits=4, misses=4, size=4, max_entries=10_000)
    cached.embed_documents(["d", "a", "d"])  # all hits: no inner call
    assert len(inner.calls) == 2 and cached.hits == 7


def test_cache_evicts_least_recently_used() -> None:
    inner = HashingEmbedder()
    cached = CachedEmbedder(inner, max_entries=2)
    cached.embed_documents(["a", "b"])
    cached.embed_documents(["a"])  # a is now most recent
    cached.embed_documents(["c"])  # evicts b
    cached.embed_documents(["a", "b"])
    assert inner.calls[-1] == ["b"]
    assert cached.stats().size == 2


def test_cache_keys_by_model_kind_and_hash() -> None:
    inner = HashingEmbedder()
    cached = CachedEmbedder(inner)
    cached.embed_documents(["same"])
    cached.embed_query("same")  # queries are cached apart from documents
    assert cached.misses == 2
    assert (inner.model, "document", text_hash("same")) in cached._vectors
    assert text_hash("é") == hashlib.sha256("é".encode()).hexdigest()


def test_cache_output_cannot_corrupt_cache() -> None:
    cached = CachedEmbedder(HashingEmbedder())
    first = cached.embed_documents(["keep me"])
    first[:] = 0.0
    q = cached.embed_query("keep me")
    q[:] = 0.0
    np.testing.assert_allclose(np.linalg.norm(cached.embed_documents(["keep me"])), 1.0)
    np.testing.assert_allclose(np.linalg.norm(cached.embed_query("keep me")), 1.0)


def test_cache_does_not_store_failures_and_clear_resets() -> None:
    class Failing(HashingEmbedder):
        fail = True

        def embed_documents(self, texts: Any) -> Any:
            if self.fail:
                raise EmbedderUnavailableError("down")
            return super().embed_documents(texts)

    inner = Failing()
    cached = CachedEmbedder(inner)
    with pytest.raises(EmbedderUnavailableError):
        cached.embed_documents(["t"])
    inner.fail = False
    cached.embed_documents(["t"])
    assert len(inner.calls) == 1
    cached.clear()
    assert cached.stats() == CacheStats(0, 0, 0, 10_000)


def test_cache_is_thread_safe() -> None:
    inner = HashingEmbedder()
    cached = CachedEmbedder(inner, max_entries=50)
    texts = [f"text number {i}" for i in range(80)]
    expected = inner.embed_documents(texts)

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(30):
            idx = rng.choice(len(texts), size=7)
            out = cached.embed_documents([texts[i] for i in idx])
            np.testing.assert_array_equal(out, expected[idx])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    stats = cached.stats()
    assert stats.hits + stats.misses == 8 * 30 * 7
    assert stats.size <= 50


def test_cache_rejects_bad_capacity() -> None:
    with pytest.raises(ValueError):
        CachedEmbedder(HashingEmbedder(), max_entries=0)


class _StubModel:
    """Stands in for a SentenceTransformer: records calls, returns unnormalised-safe vectors."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], dict[str, Any]]] = []
        self.fake = HashingEmbedder(8)

    def get_embedding_dimension(self) -> int:
        return 8

    def _run(self, kind: str, texts: list[str], **kw: Any) -> np.ndarray:
        self.calls.append((kind, texts, kw))
        return self.fake.embed_documents(texts).astype(np.float64)

    def encode_query(self, texts: list[str], **kw: Any) -> np.ndarray:
        return self._run("query", texts, **kw)

    def encode_document(self, texts: list[str], **kw: Any) -> np.ndarray:
        return self._run("document", texts, **kw)


@pytest.fixture
def stubbed_local(monkeypatch: pytest.MonkeyPatch) -> tuple[SentenceTransformerEmbedder, Any]:
    stub = _StubModel()
    loads: list[int] = []

    def fake_load(self: SentenceTransformerEmbedder) -> Any:
        loads.append(1)
        time.sleep(0.05)  # widen the race window
        return stub

    monkeypatch.setattr(SentenceTransformerEmbedder, "_load", fake_load)
    emb = SentenceTransformerEmbedder(batch_size=3)
    stub.loads = loads  # type: ignore[attr-defined]
    return emb, stub


class TestStubbedLocalContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, stubbed_local: tuple[SentenceTransformerEmbedder, Any]) -> Any:
        return stubbed_local[0]


def test_local_is_lazy_and_loads_once_across_threads(
    stubbed_local: tuple[SentenceTransformerEmbedder, Any],
) -> None:
    emb, stub = stubbed_local
    assert not emb.loaded
    barrier = threading.Barrier(6)

    def touch(_: int) -> int:
        barrier.wait()
        return emb.dimension

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(touch, range(6))) == {8}
    assert len(stub.loads) == 1 and emb.loaded


def test_local_encode_options(stubbed_local: tuple[SentenceTransformerEmbedder, Any]) -> None:
    emb, stub = stubbed_local
    out = emb.embed_documents(["a", "b"])
    emb.embed_query("q")
    assert out.dtype == np.float32 and out.flags.c_contiguous
    (kind, texts, kw), (qkind, _, _) = stub.calls
    assert (kind, texts, qkind) == ("document", ["a", "b"], "query")
    assert kw["batch_size"] == 3 and kw["normalize_embeddings"] is True
    assert kw["show_progress_bar"] is False


def test_local_model_ids_and_validation() -> None:
    assert SentenceTransformerEmbedder().model == "sentence-transformers/all-MiniLM-L6-v2"
    assert SentenceTransformerEmbedder("BAAI/bge-small-en-v1.5").model == "BAAI/bge-small-en-v1.5"
    with pytest.raises(ValueError):
        SentenceTransformerEmbedder(batch_size=0)
    with pytest.raises(AttributeError):
        SentenceTransformerEmbedder().dimension = 3


def _openai_http_client(router: respx.MockRouter) -> Any:
    """openai>=3 talks through httpx2, which respx does not patch: bridge it to the router."""
    if int(openai.__version__.split(".")[0]) < 3:
        return None  # openai 2.x uses httpx, which respx.mock patches
    import httpx2

    class RespxBridge(httpx2.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            req = httpx.Request(
                request.method,
                str(request.url),
                headers=request.headers.raw,
                content=request.read(),
            )
            try:
                resp = router.handler(req)
            except httpx.ConnectError as exc:
                raise httpx2.ConnectError(str(exc), request=request) from exc
            return httpx2.Response(resp.status_code, headers=resp.headers.raw, content=resp.read())

    return httpx2.Client(transport=RespxBridge())


def fake_embeddings(request: httpx.Request) -> httpx.Response:
    """Real response shape; vectors from HashingEmbedder, scaled by 3, data in reverse order."""
    body = json.loads(request.content)
    inputs = body["input"]
    vectors = HashingEmbedder(body.get("dimensions", 1536)).embed_documents(inputs) * 3.0
    data = [
        {"object": "embedding", "index": i, "embedding": vectors[i].tolist()}
        for i in reversed(range(len(inputs)))
    ]
    usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
    return httpx.Response(
        200, json={"object": "list", "data": data, "model": body["model"], "usage": usage}
    )


@pytest.fixture
def openai_api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
def make_openai(openai_api: respx.MockRouter) -> Any:
    def make(**kw: Any) -> OpenAIEmbedder:
        kw.setdefault("api_key", "sk-test")
        kw.setdefault("max_retries", 0)
        return OpenAIEmbedder(http_client=_openai_http_client(openai_api), **kw)

    return make


class TestOpenAIEmbedderContract(EmbedderContract):
    @pytest.fixture
    def embedder(self, openai_api: respx.MockRouter, make_openai: Any) -> OpenAIEmbedder:
        openai_api.post("/embeddings").mock(side_effect=fake_embeddings)
        embedder: OpenAIEmbedder = make_openai(batch_size=3)  # 7 sample texts: 3 requests
        return embedder

    def semantic_triples(self) -> list[tuple[str, str, str]]:
        return WORD_TRIPLES


def test_openai_request_shape_and_out_of_order_index(
    openai_api: respx.MockRouter, make_openai: Any
) -> None:
    route = openai_api.post("/embeddings").mock(side_effect=fake_embeddings)
    emb = make_openai(model="text-embedding-3-small", dimension=16)
    out = emb.embed_documents(["first text", "second text", "third"])
    np.testing.assert_allclose(
        out, HashingEmbedder(16).embed_documents(["first text", "second text", "third"]), atol=1e-6
    )
    body = json.loads(route.calls.last.request.content)
    assert body == {
        "input": ["first text", "second text", "third"],
        "model": "text-embedding-3-small",
        "encoding_format": "float",
        "dimensions": 16,
    }
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-test"
    assert emb.model == "openai/text-embedding-3-small@16" and emb.dimension == 16


def test_openai_batches_at_most_2048_inputs(openai_api: respx.MockRouter, make_openai: Any) -> None:
    route = openai_api.post("/embeddings").mock(side_effect=fake_embeddings)
    texts = [f"t{i}" for i in range(4097)]
    out = make_openai(dimension=4, batch_size=2048).embed_documents(texts)
    sizes = [len(json.loads(c.request.content)["input"]) for c in route.calls]
    assert sizes == [2048, 2048, 1]
    np.testing.assert_allclose(out[4096], HashingEmbedder(4).embed_query("t4096"), atol=1e-6)
    with pytest.raises(ValueError):
        make_openai(batch_size=2049)


def test_openai_empty_input_makes_no_request(
    openai_api: respx.MockRouter, make_openai: Any
) -> None:
    route = openai_api.post("/embeddings").mock(side_effect=fake_embeddings)
    assert make_openai().embed_documents([]).shape == (0, 1536)
    assert route.call_count == 0


def test_openai_retries_429_then_succeeds(openai_api: respx.MockRouter, make_openai: Any) -> None:
    limited = httpx.Response(
        429,
        headers={"retry-after-ms": "1"},
        json={
            "error": {"message": "Rate limit", "type": "requests", "code": "rate_limit_exceeded"}
        },
    )
    answers = iter([limited])

    def first_limited(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or fake_embeddings(request)

    route = openai_api.post("/embeddings").mock(side_effect=first_limited)
    out = make_openai(max_retries=2).embed_documents(["hello"])
    assert route.call_count == 2 and out.shape == (1, 1536)


def test_openai_429_after_retries_is_typed(openai_api: respx.MockRouter, make_openai: Any) -> None:
    route = openai_api.post("/embeddings").mock(
        return_value=httpx.Response(429, headers={"retry-after-ms": "1"}, json={"error": {}})
    )
    with pytest.raises(EmbedderRateLimitError):
        make_openai(max_retries=1).embed_documents(["hello"])
    assert route.call_count == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, EmbedderAuthenticationError),
        (403, EmbedderAuthenticationError),
        (400, EmbedderRequestError),
    ],
)
def test_openai_status_errors_are_typed(
    openai_api: respx.MockRouter, make_openai: Any, status: int, error: type[Exception]
) -> None:
    payload = {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
    route = openai_api.post("/embeddings").mock(return_value=httpx.Response(status, json=payload))
    with pytest.raises(error) as info:
        make_openai(max_retries=3).embed_documents(["hello"])
    assert isinstance(info.value, EmbedderError)
    assert route.call_count == 1  # 4xx other than 429 is not retried


def test_openai_connection_error_is_unavailable(
    openai_api: respx.MockRouter, make_openai: Any
) -> None:
    openai_api.post("/embeddings").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(EmbedderUnavailableError):
        make_openai().embed_documents(["hello"])


@pytest.mark.parametrize(
    "data",
    [
        [{"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}],  # wrong length
        [{"object": "embedding", "index": 5, "embedding": [1.0] * 1536}],  # wrong index
        [{"object": "embedding", "index": 0, "embedding": [0.0] * 1536}],  # zero vector
    ],
)
def test_openai_malformed_response(
    openai_api: respx.MockRouter, make_openai: Any, data: list[dict[str, Any]]
) -> None:
    body = {
        "object": "list",
        "data": data,
        "model": "m",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
    openai_api.post("/embeddings").mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(EmbedderRequestError):
        make_openai().embed_documents(["hello"])


def test_openai_base_url_and_known_dimensions() -> None:
    with respx.mock(base_url="http://127.0.0.1:8000/v1") as router:
        route = router.post("/embeddings").mock(side_effect=fake_embeddings)
        emb = OpenAIEmbedder(
            "text-embedding-ada-002",
            api_key="k",
            base_url="http://127.0.0.1:8000/v1",
            http_client=_openai_http_client(router),
        )
        emb.embed_query("hi")
        assert route.call_count == 1
        assert "dimensions" not in json.loads(route.calls.last.request.content)
    assert emb.dimension == 1536 and emb.model == "openai/text-embedding-ada-002"
    assert OpenAIEmbedder("text-embedding-3-large", api_key="k").dimension == 3072
    assert OpenAIEmbedder("text-embedding-3-large", api_key="k", dimension=3072).model == (
        "openai/text-embedding-3-large"
    )


def test_openai_constructor_validation() -> None:
    with pytest.raises(EmbedderConfigurationError):
        OpenAIEmbedder(api_key="")
    with pytest.raises(ValueError, match="dimension="):
        OpenAIEmbedder("my-compatible-model", api_key="k")
    custom = OpenAIEmbedder("my-compatible-model", api_key="k", dimension=768)
    assert custom.dimension == 768 and custom.model == "openai/my-compatible-model"
    assert not custom._send_dimensions  # declares the length, is not sent to the server
    with pytest.raises(ValueError, match="fixed"):
        OpenAIEmbedder("text-embedding-ada-002", api_key="k", dimension=256)
    with pytest.raises(ValueError):
        OpenAIEmbedder(api_key="k", dimension=0)


@pytest.fixture
def fresh_default() -> Iterator[None]:
    factory.reset_default_embedder()
    yield
    factory.reset_default_embedder()


def test_factory_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRACE_EMBEDDING_BATCH_SIZE", "16")
    monkeypatch.setenv("GRACE_EMBEDDING_DEVICE", "cuda:1")
    emb = factory.make_embedder(Settings())
    # Not isinstance(emb, Embedder): on Python 3.11 that reads ``dimension``, loading the model.
    assert isinstance(emb, CachedEmbedder)
    inner = emb.inner
    assert isinstance(inner, SentenceTransformerEmbedder) and not inner.loaded
    assert (inner.batch_size, inner.device) == (16, "cuda:1")
    assert emb.model == "sentence-transformers/all-MiniLM-L6-v2"


def test_factory_local_default_is_the_onnx_encoder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from knowledge.embedding.onnx import OnnxEncoder

    monkeypatch.setenv("GRACE_DATA_DIR", str(tmp_path))
    emb = factory.make_embedder(Settings())
    assert isinstance(emb, CachedEmbedder)
    inner = emb.inner
    assert isinstance(inner, OnnxEncoder) and not inner.loaded
    assert inner.cache_dir == tmp_path / "models"
    assert inner.model == "sentence-transformers/all-MiniLM-L6-v2" == emb.model
    # the sentence-transformers embedder of the same model is the (unloaded) fallback
    assert isinstance(inner._fallback, SentenceTransformerEmbedder)
    assert not inner._fallback.loaded


def test_factory_backend_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRACE_EMBEDDING_BACKEND", "torch")
    emb = factory.make_embedder(Settings())
    assert isinstance(emb, CachedEmbedder)
    assert isinstance(emb.inner, SentenceTransformerEmbedder)
    monkeypatch.setenv("GRACE_EMBEDDING_BACKEND", "onnx")
    monkeypatch.setenv("GRACE_EMBEDDING_MODEL", "BAAI/bge-small-en-v1.5")
    with pytest.raises(EmbedderConfigurationError, match="bundled"):
        factory.make_embedder(Settings())
    monkeypatch.setenv("GRACE_EMBEDDING_BACKEND", "auto")  # another model: sentence-transformers
    emb = factory.make_embedder(Settings())
    assert isinstance(emb, CachedEmbedder)
    assert isinstance(emb.inner, SentenceTransformerEmbedder)


def test_onnx_encoder_falls_back_when_it_cannot_load(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from knowledge.embedding.onnx import OnnxEncoder

    def refuse(self: OnnxEncoder) -> None:
        raise EmbedderUnavailableError("no onnxruntime here")

    monkeypatch.setattr(OnnxEncoder, "_load", refuse)
    fallback = HashingEmbedder(32)
    encoder = OnnxEncoder(tmp_path, fallback=fallback)
    np.testing.assert_array_equal(encoder.embed_query("a b"), fallback.embed_query("a b"))
    np.testing.assert_array_equal(
        encoder.embed_documents(["a", "b c"]), fallback.embed_documents(["a", "b c"])
    )
    assert encoder.dimension == 32 and encoder.loaded
    with pytest.raises(EmbedderUnavailableError):
        OnnxEncoder(tmp_path).load()


def test_cache_wrappers_report_and_warm_the_inner_model(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """/readyz and the server's warm-up see the model through the caches (they did not)."""
    from knowledge.embedding.onnx import OnnxEncoder
    from knowledge.embedding.redis_cache import RedisCachedEmbedder

    def refuse(self: OnnxEncoder) -> None:
        raise EmbedderUnavailableError("no onnxruntime here")

    monkeypatch.setattr(OnnxEncoder, "_load", refuse)  # so the fallback (a fake) loads
    encoder = OnnxEncoder(tmp_path, fallback=HashingEmbedder(16))
    cached = CachedEmbedder(RedisCachedEmbedder(encoder, None, ttl_s=60))  # type: ignore[arg-type]
    assert cached.loaded is False
    cached.warmup()
    assert cached.loaded is True and encoder.loaded
    assert CachedEmbedder(HashingEmbedder(8)).loaded is True  # nothing to load


def test_factory_openai_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRACE_EMBEDDING_PROVIDER", "openai")
    with pytest.raises(EmbedderConfigurationError, match="OPENAI_API_KEY"):
        factory.make_embedder(Settings())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    emb = factory.make_embedder(Settings())
    assert isinstance(emb, CachedEmbedder) and isinstance(emb.inner, OpenAIEmbedder)
    assert emb.model == "openai/text-embedding-3-small" and emb.dimension == 1536
    assert emb.inner._client_kwargs["base_url"] == "http://127.0.0.1:9/v1"


def test_default_embedder_is_memoised_and_resettable(fresh_default: None) -> None:
    first = factory.get_default_embedder()
    assert factory.get_default_embedder() is first
    factory.reset_default_embedder()
    assert factory.get_default_embedder() is not first


def test_factory_import_is_light() -> None:
    code = (
        "import sys, knowledge.embedding.factory, knowledge.embedding.cache, "
        "knowledge.embedding.local, knowledge.embedding.openai;"
        "print([m for m in ('torch', 'sentence_transformers', 'transformers', 'openai') "
        "if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"
