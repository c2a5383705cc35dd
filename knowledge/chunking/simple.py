"""Simple chunker: LangChain's recursive character splitter, with exact character offsets.

``RecursiveCharacterTextSplitter`` returns strings only, and its ``add_start_index`` option
locates each chunk with ``str.find`` from an estimated position, which lands on an earlier copy
of repeated text (``"ab ab ab ab ab"``, size 5, overlap 2 puts the second chunk at 3 instead of
6 and leaves the end uncovered). So we let LangChain cut *without* overlap and in a lossless
mode (separators kept, whitespace not stripped): its pieces then tile the text exactly and
their offsets are running sums. The overlap is added here, on spans.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

from knowledge.chunking.base import build_chunks, check_sizes
from knowledge.chunking.defaults import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from knowledge.chunking.spans import Span
from knowledge.types import Chunk, SourceDocument

DEFAULT_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", " ", "")
"""Paragraphs, then lines, then words, then characters (LangChain's defaults)."""


def tile(text: str, pieces: Sequence[str]) -> list[Span]:
    """Return the spans of ``pieces`` that concatenate to ``text``.

    Raises:
        RuntimeError: The pieces do not concatenate to ``text`` (the splitter lost text).
    """
    spans: list[Span] = []
    pos = 0
    for piece in pieces:
        if not text.startswith(piece, pos):
            raise RuntimeError(f"text splitter output does not tile the text at offset {pos}")
        spans.append((pos, pos + len(piece)))
        pos += len(piece)
    if pos != len(text):
        raise RuntimeError(f"text splitter output stops at offset {pos} of {len(text)}")
    return spans


def add_overlap(
    text: str, spans: Sequence[Span], overlap: int, barriers: Sequence[int]
) -> list[Span]:
    """Extend each span after the first backwards by up to ``overlap`` characters.

    The extension starts at a word boundary (the start of a non-whitespace run) and never
    reaches back past an offset in ``barriers`` (heading starts), so a chunk's heading path is
    the section its new text begins in. Spans with no boundary in reach are left as they are.

    Args:
        text: The text the spans index into.
        spans: Contiguous spans in order.
        overlap: Maximum extension in characters.
        barriers: Sorted offsets the extension must not cross.

    Returns:
        The extended spans, same order and count.
    """
    result = list(spans[:1])
    for prev, (start, end) in pairwise(spans):
        floor = max(prev[0], start - overlap)
        at = bisect_right(barriers, start) - 1
        if at >= 0:
            floor = max(floor, barriers[at])
        new_start = start
        for pos in range(floor, start):
            if not text[pos].isspace() and (pos == 0 or text[pos - 1].isspace()):
                new_start = pos
                break
        result.append((new_start, end))
    return result


class SimpleChunker:
    """Fixed-size character chunks with overlap, cut at the coarsest separator that fits.

    ``langchain_text_splitters.RecursiveCharacterTextSplitter`` splits on the first of
    ``separators`` found, recurses into pieces still too long and merges pieces back up to
    ``chunk_size - chunk_overlap`` characters of new text; the final ``""`` separator cuts
    between characters. Each chunk after the first is then prefixed with up to
    ``chunk_overlap`` characters from the end of the previous one, starting at a word and not
    crossing a heading, so no chunk exceeds ``chunk_size``.

    Args:
        chunk_size: Maximum chunk length in characters.
        chunk_overlap: Maximum characters repeated from the previous chunk.
        separators: Separators to try, coarsest first (literal strings).

    Raises:
        ValueError: Invalid sizes (see :func:`check_sizes`).
    """

    name = "simple"

    def __init__(
        self,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
        separators: Sequence[str] = DEFAULT_SEPARATORS,
    ) -> None:
        check_sizes(chunk_size, chunk_overlap)
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.separators = tuple(separators)

    def chunk(self, doc: SourceDocument) -> list[Chunk]:
        """Split ``doc`` into character chunks with exact offsets."""
        # Lazy import: langchain pulls in langchain-core, too slow for CLI start-up.
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            separators=list(self.separators),
            chunk_size=self.chunk_size - self.chunk_overlap,
            chunk_overlap=0,
            keep_separator=True,
            strip_whitespace=False,
        )
        spans = tile(doc.text, splitter.split_text(doc.text))
        barriers = sorted(h.start for h in doc.headings)
        spans = add_overlap(doc.text, spans, self.chunk_overlap, barriers)
        return build_chunks(doc, spans, chunker=self.name)
