"""Character-span helpers: trim, split at whitespace, and pack spans into size-bounded chunks.

A span is a half-open ``(start, end)`` range of character offsets into one text. Working on
spans instead of strings is what keeps every chunk's offsets exact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Span = tuple[int, int]

_WORD = re.compile(r"\S+")


def trim(text: str, span: Span) -> Span:
    """Shrink ``span`` to exclude leading and trailing whitespace (``start == end`` if blank)."""
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_long(text: str, span: Span, max_len: int) -> list[Span]:
    """Split ``span`` into pieces of at most ``max_len`` characters.

    Words (runs of non-whitespace) are packed greedily; a single word longer than ``max_len``
    is cut every ``max_len`` characters. A span that already fits is returned unchanged.

    Args:
        text: The text ``span`` indexes into.
        span: Range to split.
        max_len: Maximum piece length in characters (>= 1).

    Returns:
        Non-overlapping pieces in order, covering every non-whitespace character of ``span``.
    """
    start, end = span
    if end - start <= max_len:
        return [span]
    words: list[Span] = []
    for match in _WORD.finditer(text, start, end):
        w_start, w_end = match.span()
        words.extend((i, min(i + max_len, w_end)) for i in range(w_start, w_end, max_len))
    return pack(words, max_len)


def pack(units: Sequence[Span], max_len: int, overlap: int = 0) -> list[Span]:
    """Greedily merge consecutive units into spans of at most ``max_len`` characters.

    A merged span runs from its first unit's start to its last unit's end, so the text between
    units (whitespace) is included. With ``overlap > 0`` each span after the first starts with
    the trailing whole units of the previous span whose extent is at most ``overlap`` characters
    and still leave room for the next new unit (LangChain's ``chunk_overlap`` semantics); units
    are never split.

    Args:
        units: Spans in document order, each at most ``max_len`` long (longer ones stand alone).
        max_len: Maximum merged length in characters.
        overlap: Maximum characters shared by consecutive spans.

    Returns:
        Merged spans in order; every unit lies inside at least one of them.
    """
    spans: list[Span] = []
    first = 0
    while first < len(units):
        last = first
        while last + 1 < len(units) and units[last + 1][1] - units[first][0] <= max_len:
            last += 1
        spans.append((units[first][0], units[last][1]))
        if last + 1 >= len(units):
            break
        # Step back over trailing units while they fit the overlap and leave room for the next.
        nxt = last + 1
        while (
            nxt - 1 > first
            and units[last][1] - units[nxt - 1][0] <= overlap
            and units[last + 1][1] - units[nxt - 1][0] <= max_len
        ):
            nxt -= 1
        first = nxt
    return spans
