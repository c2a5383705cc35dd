"""Markdown loader: keeps the text as written and records ATX headings with exact offsets."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from knowledge.loaders.base import file_metadata, file_mtime, read_text, source_of
from knowledge.types import Heading, SourceDocument

CONTENT_TYPE = "text/markdown"

# CommonMark: up to three spaces of indent, then 1-6 '#', then a space/tab or the end of the line.
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


def plain_title(raw: str) -> str:
    """Strip inline Markdown (links, images, ``**``, ``__``, backticks) from a heading's text."""
    text = _LINK.sub(r"\1", raw)
    return _EMPHASIS.sub("", text).strip()


def parse_headings(text: str) -> tuple[Heading, ...]:
    """Find the ATX headings (``#`` … ``######``) of Markdown ``text``.

    Lines inside fenced code blocks (```` ``` ```` or ``~~~``, closed by a fence of the same
    character at least as long; an unclosed fence runs to the end) are never headings. Setext
    headings (underlined with ``===``) are not recognised. Headings with an empty title are skipped.

    Args:
        text: Markdown source with ``LF`` line endings.

    Returns:
        Headings in order; ``start`` is the character offset of the heading line in ``text``.
    """
    headings: list[Heading] = []
    fence: str | None = None  # the opening fence run while inside a code block
    offset = 0
    for body in text.split("\n"):  # only LF ends a line (not \f, \v or U+2028 as in splitlines)
        match = _FENCE.match(body)
        if fence is not None:
            closes = match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence)
            if closes and match and not match.group(2).strip():
                fence = None
        elif match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
            fence = match.group(1)
        else:
            atx = _ATX.match(body)
            if atx:
                title = plain_title(_CLOSING_HASHES.sub("", atx.group(2) or ""))
                if title:
                    headings.append(Heading(level=len(atx.group(1)), title=title, start=offset))
        offset += len(body) + 1
    return tuple(headings)


def markdown_document(
    text: str,
    *,
    source: str,
    title: str | None = None,
    collection: str = "default",
    content_type: str = CONTENT_TYPE,
    modified_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> SourceDocument:
    """Build a :class:`SourceDocument` from Markdown already in memory.

    Args:
        text: Markdown text; kept unchanged so chunk offsets map back to it.
        source: Document identity (absolute path or URL).
        title: Title to use; defaults to the first level-1 heading, else ``source``'s stem.
        collection: Logical collection for filtering.
        content_type: MIME type to record (HTML converted to Markdown keeps ``text/html``).
        modified_at: Source modification time (UTC), when known.
        metadata: Extra JSON-serialisable facts.

    Returns:
        The document, with headings parsed by :func:`parse_headings`.
    """
    headings = parse_headings(text)
    if not title:
        title = next((h.title for h in headings if h.level == 1), None) or Path(source).stem
    return SourceDocument(
        source=source,
        title=title,
        text=text,
        content_type=content_type,
        collection=collection,
        headings=headings,
        modified_at=modified_at,
        metadata=dict(metadata or {}),
    )


class MarkdownLoader:
    """Loads ``.md``/``.markdown`` files as-is (UTF-8), with ATX headings and their offsets."""

    content_type = CONTENT_TYPE
    extensions: tuple[str, ...] = (".md", ".markdown")

    def load(self, path: Path, *, collection: str = "default") -> SourceDocument:
        """Load a Markdown file.

        Args:
            path: File to read.
            collection: Collection recorded on the document.

        Returns:
            The document; ``title`` is the first ``#`` heading, else the file stem.

        Raises:
            LoaderError: The file is unreadable or not valid UTF-8.
        """
        path = Path(path)
        return markdown_document(
            read_text(path),
            source=source_of(path),
            collection=collection,
            modified_at=file_mtime(path),
            metadata=file_metadata(path),
        )
