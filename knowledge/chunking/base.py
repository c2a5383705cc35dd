"""The ``Chunker`` protocol and the one place where character spans become ``Chunk`` objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from knowledge.chunking.spans import Span, trim
from knowledge.types import Chunk, SourceDocument


@runtime_checkable
class Chunker(Protocol):
    """Splits a document into retrievable chunks.

    Every implementation guarantees, for ``chunks = chunker.chunk(doc)``:

    * ``chunk.text == doc.text[chunk.start:chunk.end]`` and ``chunk.index`` runs ``0..n-1``;
    * ``chunk.heading_path == doc.heading_path(chunk.start)``;
    * no chunk is empty or whitespace-only, and chunks are in document order (by ``start``);
    * no chunk lies inside its predecessor's span;
    * every non-whitespace character of ``doc.text`` lies in at least one chunk;
    * ``len(chunk.text) <= chunk_size`` (characters): text with no natural break that is
      longer — a sentence, then a single word — is split at whitespace, then cut hard.

    Attributes:
        name: Registry name (``simple``, ``sentence``, ``paragraph``, ``semantic``), recorded in
            each chunk's ``metadata["chunker"]``.
    """

    name: str

    def chunk(self, doc: SourceDocument) -> list[Chunk]:
        """Split ``doc``; an empty or whitespace-only document gives ``[]``."""
        ...


def check_sizes(chunk_size: int, chunk_overlap: int = 0) -> None:
    """Validate chunking sizes (characters).

    Raises:
        ValueError: ``chunk_size < 1``, ``chunk_overlap < 0`` or ``chunk_overlap >= chunk_size``.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 character, got {chunk_size}")
    if chunk_overlap < 0:
        raise ValueError(f"chunk_overlap must be >= 0, got {chunk_overlap}")
    if chunk_overlap >= chunk_size:
        raise ValueError(
            f"chunk_overlap ({chunk_overlap}) must be smaller than chunk_size ({chunk_size})"
        )


def build_chunks(
    doc: SourceDocument,
    spans: Iterable[Span],
    *,
    chunker: str,
    metadata: Iterable[dict[str, Any]] | None = None,
) -> list[Chunk]:
    """Turn ``(start, end)`` spans of ``doc.text`` into numbered chunks.

    Spans are trimmed of surrounding whitespace; spans left empty, or lying inside the previous
    span, are dropped (with their metadata entry), and a span that extends the previous one from
    the same start replaces it. Numbering follows the given order, which must be document order.

    Args:
        doc: The document the spans index into.
        spans: Half-open character ranges.
        chunker: Chunker name, stored as ``metadata["chunker"]``.
        metadata: Optional per-span extra metadata, parallel to ``spans``.

    Returns:
        Chunks with exact text, index, offsets and heading path.
    """
    extras = iter(metadata) if metadata is not None else None
    kept: list[tuple[Span, dict[str, Any]]] = []
    for span in spans:
        extra = next(extras, {}) if extras is not None else {}
        start, end = trim(doc.text, span)
        if start >= end:
            continue
        if kept:
            (prev_start, prev_end), _ = kept[-1]
            if prev_start <= start and end <= prev_end:
                continue  # adds nothing the previous chunk lacks
            if start == prev_start:
                kept.pop()  # the previous chunk is a prefix of this one
        kept.append(((start, end), extra))
    return [
        Chunk(
            text=doc.text[start:end],
            index=index,
            start=start,
            end=end,
            heading_path=doc.heading_path(start),
            metadata={"chunker": chunker, **extra},
        )
        for index, ((start, end), extra) in enumerate(kept)
    ]
