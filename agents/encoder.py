"""The router's encoder: the process's ONNX MiniLM (:mod:`knowledge.embedding.onnx`).

The encoder itself lives in the knowledge layer, since query and document embeddings use the
same one; this module picks it for the router and re-exports it for older imports.
"""

from __future__ import annotations

from pathlib import Path

from knowledge.embedding.base import Embedder
from knowledge.embedding.local import EmbedderUnavailableError
from knowledge.embedding.onnx import OnnxEncoder, bundled_model_dir, export_onnx, fingerprint

__all__ = [
    "OnnxEncoder",
    "bundled_model_dir",
    "export_onnx",
    "fingerprint",
    "innermost",
    "router_embedder",
]


def innermost(embedder: Embedder) -> Embedder:
    """The embedder under any cache wrappers (objects with an ``inner`` embedder)."""
    seen: Embedder = embedder
    while (inner := getattr(seen, "inner", None)) is not None:
        seen = inner
    return seen


def router_embedder(cache_dir: str | Path, fallback: Embedder) -> Embedder:
    """The encoder the router should use: the process's own ONNX encoder when it has one.

    When ``fallback`` (the process embedder) is an :class:`OnnxEncoder` under its caches, that
    same instance is returned, so the model is in memory once. Otherwise a new
    :class:`OnnxEncoder` is loaded (exporting on first use; routing vectors never meet stored
    ones, so this holds with OpenAI embeddings too), and if it cannot load, ``fallback``
    itself. Both give the same vectors for all-MiniLM-L6-v2, so a router works
    with either; only the latency differs (~6 ms against ~15-20 ms per message on two cores).

    Args:
        cache_dir: Where the exported ONNX file is kept, e.g. ``settings.data_dir / "models"``.
        fallback: Usually the shared process embedder (``get_default_embedder()``).
    """
    inner = innermost(fallback)
    if isinstance(inner, OnnxEncoder):
        return inner
    encoder = OnnxEncoder(cache_dir)
    try:
        encoder.load()
    except EmbedderUnavailableError as exc:
        import structlog

        structlog.get_logger(__name__).warning("onnx_encoder_unavailable", error=str(exc))
        return fallback
    return encoder
