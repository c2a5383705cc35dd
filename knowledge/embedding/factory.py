"""Build the configured embedder, and keep one per process so the model loads once."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from knowledge.embedding.base import Embedder
from knowledge.embedding.local import EmbedderConfigurationError

if TYPE_CHECKING:
    from graphs.core.settings import Settings

DEFAULT_CACHE_ENTRIES = 10_000

_default: Embedder | None = None
_default_lock = threading.Lock()


def make_embedder(settings: Settings) -> Embedder:
    """Build a new embedder from settings (nothing is loaded or contacted yet).

    ``local`` gives ``CachedEmbedder(OnnxEncoder(...))`` for the bundled model on CPU (see
    :func:`local_embedder`), else ``CachedEmbedder(SentenceTransformerEmbedder(...))``;
    ``openai`` gives ``CachedEmbedder(OpenAIEmbedder(...))``, with ``text-embedding-3-small`` when
    ``embedding_model`` is still the local default. With ``redis_url`` set, a shared
    :class:`~knowledge.embedding.redis_cache.RedisCachedEmbedder` sits between the two.

    Args:
        settings: Uses ``embedding_provider``, ``embedding_model``, ``embedding_batch_size``,
            ``embedding_device``, ``embedding_backend``, ``models_dir``, ``openai_api_key`` and
            ``openai_base_url``.

    Returns:
        A fresh embedder; call :func:`get_default_embedder` to share one per process.

    Raises:
        EmbedderConfigurationError: ``openai`` is chosen without ``OPENAI_API_KEY``, the
            provider is unknown, or ``embedding_backend=onnx`` names a model that is not bundled.
    """
    from knowledge.embedding.cache import CachedEmbedder

    provider = settings.embedding_provider
    if provider == "local":
        inner: Embedder = local_embedder(settings)
    elif provider == "openai":
        if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
            raise EmbedderConfigurationError(
                "embedding_provider is 'openai' but no API key is set: set OPENAI_API_KEY "
                "(or GRACE_OPENAI_API_KEY), or use GRACE_EMBEDDING_PROVIDER=local"
            )
        from knowledge.embedding.openai import OpenAIEmbedder

        model = settings.embedding_model
        if model == "all-MiniLM-L6-v2":  # the local default left unchanged
            model = "text-embedding-3-small"
        inner = OpenAIEmbedder(
            model,
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            batch_size=settings.embedding_batch_size,
        )
    else:  # pragma: no cover - Settings validates the literal
        raise EmbedderConfigurationError(f"unknown embedding_provider {provider!r}")
    from graphs.core.redis import get_sync_redis

    redis = get_sync_redis(settings)
    if redis is not None:  # shared by every replica and worker, behind the in-process LRU
        from knowledge.embedding.redis_cache import RedisCachedEmbedder

        inner = RedisCachedEmbedder(
            inner, redis, ttl_s=settings.cache_ttl_s, prefix=f"{settings.cache_prefix}emb:"
        )
    return CachedEmbedder(inner, max_entries=DEFAULT_CACHE_ENTRIES)


def local_embedder(settings: Settings) -> Embedder:
    """The local model's embedder: ONNX where it applies, else sentence-transformers.

    ``embedding_backend=auto`` picks :class:`~knowledge.embedding.onnx.OnnxEncoder` for the
    bundled all-MiniLM-L6-v2 on a CPU device when onnxruntime is installed, with the
    sentence-transformers embedder of the same model as its fallback (only built, never loaded,
    unless the ONNX file cannot be made). Vectors agree within 1e-6, so stored vectors stay
    valid whichever backend wrote them. Nothing is loaded here.

    Raises:
        EmbedderConfigurationError: ``embedding_backend=onnx`` with a model that is not the
            bundled one, or without onnxruntime.
    """
    from importlib.util import find_spec

    from knowledge.embedding.local import BUNDLED_NAMES, SentenceTransformerEmbedder

    torch_embedder = SentenceTransformerEmbedder(
        settings.embedding_model,
        device=settings.embedding_device,
        batch_size=settings.embedding_batch_size,
    )
    backend = settings.embedding_backend
    bundled = settings.embedding_model in BUNDLED_NAMES
    has_ort = find_spec("onnxruntime") is not None
    if backend == "onnx" and not (bundled and has_ort):
        raise EmbedderConfigurationError(
            "GRACE_EMBEDDING_BACKEND=onnx needs onnxruntime and the bundled all-MiniLM-L6-v2 "
            f"(got {settings.embedding_model!r}); use auto or torch"
        )
    cpu = settings.embedding_device == "cpu"
    if backend == "torch" or (backend == "auto" and not (bundled and cpu and has_ort)):
        return torch_embedder
    from knowledge.embedding.onnx import OnnxEncoder

    return OnnxEncoder(
        settings.models_dir,
        batch_size=settings.embedding_batch_size,
        fallback=torch_embedder if backend == "auto" else None,
    )


def get_default_embedder(settings: Settings | None = None) -> Embedder:
    """Return the process-wide embedder, built on first call from ``settings``.

    Args:
        settings: Used on the first call only; defaults to ``get_settings()``.

    Raises:
        EmbedderConfigurationError: As :func:`make_embedder`.
    """
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                if settings is None:
                    from graphs.core.settings import get_settings

                    settings = get_settings()
                _default = make_embedder(settings)
    return _default


def reset_default_embedder() -> None:
    """Forget the process-wide embedder (tests; after changing settings)."""
    global _default
    with _default_lock:
        _default = None
