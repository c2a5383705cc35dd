"""Paragraph chunker: blank-line paragraphs merged within a section, never across a heading."""

from __future__ import annotations

import re
from itertools import pairwise

from knowledge.chunking.base import build_chunks, check_sizes
from knowledge.chunking.defaults import DEFAULT_CHUNK_SIZE
from knowledge.chunking.sentence import count_within, sentence_units
from knowledge.chunking.spans import Span, pack, trim
from knowledge.types import Chunk, SourceDocument

_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n\s*")


def sections(doc: SourceDocument) -> list[Span]:
    """Split ``doc.text`` at every heading start (PDF page starts included).

    Returns:
        Contiguous spans covering the whole text: the text before the first heading (possibly
        empty), then one span per distinct heading offset.
    """
    cuts = sorted(
        {0, len(doc.text), *(h.start for h in doc.headings if 0 < h.start < len(doc.text))}
    )
    return list(pairwise(cuts))


def paragraphs(text: str, start: int, end: int) -> list[Span]:
    """Split ``text[start:end]`` at blank lines into trimmed, non-empty paragraph spans."""
    found: list[Span] = []
    pos = start
    for match in _BLANK_LINES.finditer(text, start, end):
        found.append(trim(text, (pos, match.start())))
        pos = match.end()
    found.append(trim(text, (pos, end)))
    return [(s, e) for s, e in found if s < e]


class ParagraphChunker:
    """Chunks made of whole paragraphs, each chunk inside one heading section.

    The text is cut at every heading (so a chunk never spans two sections and its heading path
    is exact), each section into paragraphs at blank lines; consecutive paragraphs of a section
    are merged while the chunk stays within ``chunk_size`` characters. A paragraph longer than
    that is split into sentences (and a sentence longer than that at whitespace, then hard), so
    no chunk exceeds ``chunk_size``. Chunks do not overlap.

    Args:
        chunk_size: Maximum chunk length in characters.

    Raises:
        ValueError: ``chunk_size < 1``.
    """

    name = "paragraph"

    def __init__(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        check_sizes(chunk_size)
        self.chunk_size = chunk_size

    def chunk(self, doc: SourceDocument) -> list[Chunk]:
        """Split ``doc``; ``metadata["paragraphs"]`` counts the whole paragraphs in a chunk."""
        text = doc.text
        spans: list[Span] = []
        counts: list[dict[str, int]] = []
        for sec_start, sec_end in sections(doc):
            paras = paragraphs(text, sec_start, sec_end)
            units: list[Span] = []
            for p_start, p_end in paras:
                if p_end - p_start <= self.chunk_size:
                    units.append((p_start, p_end))
                else:
                    units.extend(sentence_units(text, self.chunk_size, p_start, p_end))
            packed = pack(units, self.chunk_size)
            spans.extend(packed)
            counts.extend({"paragraphs": n} for n in count_within(paras, packed))
        return build_chunks(doc, spans, chunker=self.name, metadata=counts)
