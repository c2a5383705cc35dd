"""Sentence chunker and the regex sentence splitter the other chunkers share.

The splitter is deliberately dependency-free (no NLTK/spaCy models, which would need downloads):
it first cuts text into Markdown-aware blocks (blank lines, headings, list items, quotes, table
rows and fences start new blocks), then cuts blocks after ``.``, ``!``, ``?`` or ``…`` (plus
closing quotes/brackets) followed by whitespace and a character that is not lower case, unless
the word before the period is a known abbreviation or an initial; the CJK full stop, and the
full-width ``!`` and ``?``, always end a sentence.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import pairwise

from knowledge.chunking.base import build_chunks, check_sizes
from knowledge.chunking.defaults import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from knowledge.chunking.spans import Span, pack, split_long, trim
from knowledge.types import Chunk, SourceDocument

_BLOCK_START = re.compile(
    r"[ \t]{0,3}(?:#{1,6}(?:[ \t]|$)|[-*+][ \t]|\d{1,9}[.)][ \t]|>|\||```|~~~)"
)
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_CLOSERS = "\"')]\u201d\u2019\u300d\u300f"  # quotes and brackets that may follow the stop
_OPENERS = "([\"'\u201c\u2018"
_TERMINAL = re.compile(
    f"[.!?\u2026]+[{re.escape(_CLOSERS)}]*(?=\\s)|[\u3002\uff01\uff1f]+[{re.escape(_CLOSERS)}]*"
)
# fmt: off
_ABBREVIATIONS = frozenset({
    "e.g", "i.e", "etc", "vs", "cf", "approx", "dept", "est", "fig", "inc", "ltd", "co", "corp",
    "jr", "sr", "mr", "mrs", "ms", "dr", "prof", "st", "no", "nos", "vol", "p", "pp", "ca",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
# fmt: on


def _blocks(text: str, start: int, end: int) -> list[Span]:
    """Cut ``text[start:end]`` into Markdown-aware blocks of whole lines (blank lines excluded)."""
    blocks: list[Span] = []
    block_start: int | None = None
    after_heading = False
    pos = start
    while pos < end:
        newline = text.find("\n", pos, end)
        line_end = end if newline == -1 else newline + 1
        if not text[pos:line_end].strip():
            if block_start is not None:
                blocks.append((block_start, pos))
                block_start = None
        else:
            if block_start is None:
                block_start = pos
            elif after_heading or _BLOCK_START.match(text, pos, line_end):
                blocks.append((block_start, pos))
                block_start = pos
            after_heading = _HEADING.match(text, pos, line_end) is not None
        pos = line_end
    if block_start is not None:
        blocks.append((block_start, end))
    return blocks


def _is_abbreviation(text: str, period: int, floor: int) -> bool:
    word_start = period
    while word_start > floor and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:period].lstrip(_OPENERS).lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split ``text[start:end]`` into sentence spans.

    Args:
        text: The full text (offsets stay relative to it).
        start: First character offset to consider.
        end: End offset (exclusive); defaults to ``len(text)``.

    Returns:
        Trimmed, non-empty, non-overlapping sentence spans in order; together they contain every
        non-whitespace character of the range. A sentence may be longer than any chunk size.
    """
    end = len(text) if end is None else end
    sentences: list[Span] = []
    for b_start, b_end in _blocks(text, start, end):
        cuts = [b_start]
        for match in _TERMINAL.finditer(text, b_start, b_end):
            cut = match.end()
            nxt = cut
            while nxt < b_end and text[nxt].isspace():
                nxt += 1
            if nxt >= b_end:
                continue
            latin = match.group()[0] in ".!?…"
            if latin and text[nxt].islower():
                continue
            single_period = match.group().rstrip(_CLOSERS) == "."
            if single_period and _is_abbreviation(text, match.start(), b_start):
                continue
            cuts.append(cut)
        cuts.append(b_end)
        for span in pairwise(cuts):
            s_start, s_end = trim(text, span)
            if s_start < s_end:
                sentences.append((s_start, s_end))
    return sentences


def sentence_units(text: str, max_len: int, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of ``text[start:end]``, each longer one split at whitespace to ``max_len``."""
    return [p for s in split_sentences(text, start, end) for p in split_long(text, s, max_len)]


def count_within(units: Sequence[Span], spans: Sequence[Span]) -> list[int]:
    """For each span, count the ``units`` (sorted, non-overlapping) lying entirely inside it."""
    starts = [u[0] for u in units]
    ends = [u[1] for u in units]
    return [max(0, bisect_right(ends, end) - bisect_left(starts, start)) for start, end in spans]


class SentenceChunker:
    """Packs whole sentences into chunks of at most ``chunk_size`` characters.

    Consecutive chunks share trailing whole sentences totalling at most ``chunk_overlap``
    characters. A sentence longer than ``chunk_size`` is split at whitespace (a word longer
    than that is cut hard), so no chunk exceeds ``chunk_size``.

    Args:
        chunk_size: Maximum chunk length in characters.
        chunk_overlap: Maximum characters repeated from the previous chunk.

    Raises:
        ValueError: Invalid sizes (see :func:`check_sizes`).
    """

    name = "sentence"

    def __init__(
        self, chunk_size: int = DEFAULT_CHUNK_SIZE, chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    ) -> None:
        check_sizes(chunk_size, chunk_overlap)
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    def chunk(self, doc: SourceDocument) -> list[Chunk]:
        """Split ``doc`` into sentence-aligned chunks; ``metadata["sentences"]`` counts units."""
        units = sentence_units(doc.text, self.chunk_size)
        spans = pack(units, self.chunk_size, self.chunk_overlap)
        counts = [{"sentences": n} for n in count_within(units, spans)]
        return build_chunks(doc, spans, chunker=self.name, metadata=counts)
