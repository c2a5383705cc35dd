"""Build a chunker by name (the ``--chunker`` option of ingestion).

One builder per name of :data:`knowledge.chunking.defaults.CHUNKER_NAMES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from knowledge.chunking.base import Chunker
from knowledge.chunking.defaults import (
    CHUNKER_NAMES,
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    ChunkerName,
)

if TYPE_CHECKING:
    from knowledge.embedding.base import Embedder

__all__ = ["CHUNKER_NAMES", "make_chunker"]


def make_chunker(
    name: str,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
    embedder: Embedder | None = None,
    **opts: Any,
) -> Chunker:
    """Create the chunker called ``name``.

    Args:
        name: One of :data:`knowledge.chunking.defaults.CHUNKER_NAMES` (case-insensitive).
        chunk_size: Maximum chunk length in characters (default: the shipped default,
            :data:`knowledge.chunking.defaults.DEFAULT_CHUNK_SIZE`; likewise the overlap).
        chunk_overlap: Characters repeated between consecutive chunks; used by ``simple``,
            ``sentence`` and ``structured`` (between prose chunks of one section) only
            (``paragraph`` and ``semantic`` cut at meaningful boundaries and never overlap).
        embedder: Required by ``semantic``; ignored by the others.
        **opts: Extra keyword arguments for the chunker's constructor (e.g. ``separators`` for
            ``simple``; ``breakpoint_percentile`` and ``buffer_size`` for ``semantic``).

    Returns:
        A :class:`Chunker`.

    Raises:
        ValueError: Unknown name, invalid sizes, or ``semantic`` without an embedder.
        TypeError: An option the chunker does not accept.
    """
    key = name.strip().lower()
    build = _BUILDERS.get(cast(ChunkerName, key))  # None for an unknown name
    if build is None:
        raise ValueError(f"unknown chunker {name!r}; valid names: {', '.join(CHUNKER_NAMES)}")
    return build(chunk_size, chunk_overlap, embedder, opts)


def _simple(size: int, overlap: int, _: Embedder | None, opts: dict[str, Any]) -> Chunker:
    from knowledge.chunking.simple import SimpleChunker

    return SimpleChunker(size, overlap, **opts)


def _sentence(size: int, overlap: int, _: Embedder | None, opts: dict[str, Any]) -> Chunker:
    from knowledge.chunking.sentence import SentenceChunker

    return SentenceChunker(size, overlap, **opts)


def _paragraph(size: int, _o: int, _e: Embedder | None, opts: dict[str, Any]) -> Chunker:
    from knowledge.chunking.paragraph import ParagraphChunker

    return ParagraphChunker(size, **opts)


def _structured(size: int, overlap: int, _: Embedder | None, opts: dict[str, Any]) -> Chunker:
    from knowledge.chunking.structured import StructuredChunker

    return StructuredChunker(size, overlap, **opts)


def _semantic(size: int, _: int, embedder: Embedder | None, opts: dict[str, Any]) -> Chunker:
    if embedder is None:
        raise ValueError(
            "the 'semantic' chunker needs an embedder: make_chunker('semantic', embedder=...)"
        )
    from knowledge.chunking.semantic import SemanticChunker

    return SemanticChunker(embedder, size, **opts)


_Builder = Callable[[int, int, "Embedder | None", dict[str, Any]], Chunker]

#: One builder per name of :data:`knowledge.chunking.defaults.CHUNKER_NAMES` (a unit test
#: checks they agree); chunker modules are imported only when built.
_BUILDERS: dict[ChunkerName, _Builder] = {
    "simple": _simple,
    "sentence": _sentence,
    "paragraph": _paragraph,
    "semantic": _semantic,
    "structured": _structured,
}
