"""Value types shared by the knowledge layer: loaded documents, headings and chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Heading:
    """A heading in a document's text.

    Attributes:
        level: 1 for ``#``/``<h1>``, 2 for ``##``… (PDF page markers use level 1).
        title: Heading text without markup.
        start: Character offset in :attr:`SourceDocument.text` where the heading line starts.
    """

    level: int
    title: str
    start: int


@dataclass(frozen=True)
class SourceDocument:
    """A loaded document, before chunking.

    Attributes:
        source: Absolute file path or URL; the document's identity within a collection.
        title: Human title (first ``#`` heading, HTML ``<title>``, PDF metadata or file stem).
        text: Plain text (Markdown kept for .md and HTML); chunk offsets refer to this string.
        content_type: MIME type: ``text/markdown``, ``text/plain``, ``text/html`` or
            ``application/pdf``.
        collection: Logical collection (tenant/topic) used for filtering.
        headings: Headings in order of appearance, with offsets into ``text``.
        modified_at: Source modification time (UTC) when known.
        metadata: Extra loader facts (page count, author, language…), JSON-serialisable.
    """

    source: str
    title: str
    text: str
    content_type: str
    collection: str = "default"
    headings: tuple[Heading, ...] = ()
    modified_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """SHA-256 hex digest of ``text``: unchanged text means nothing to re-ingest."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def heading_path(self, offset: int) -> tuple[str, ...]:
        """Titles of the headings enclosing character ``offset``, outermost first.

        For ``# A`` / ``## B`` / ``### C`` before ``offset`` this is ``("A", "B", "C")``; a later
        ``## D`` resets the path to ``("A", "D")``.
        """
        path: list[tuple[int, str]] = []
        for h in self.headings:
            if h.start > offset:
                break
            while path and path[-1][0] >= h.level:
                path.pop()
            path.append((h.level, h.title))
        return tuple(title for _, title in path)


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document.

    Attributes:
        text: The chunk's text (exactly ``document.text[start:end]``).
        index: 0-based position among the document's chunks.
        start: Start character offset in the source document's text.
        end: End character offset (exclusive).
        heading_path: Enclosing headings of the chunk start, outermost first.
        metadata: Chunker-specific facts (e.g. sentence count), JSON-serialisable.
    """

    text: str
    index: int
    start: int
    end: int
    heading_path: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def section(self) -> str | None:
        """The innermost heading, used as the citation's section."""
        return self.heading_path[-1] if self.heading_path else None
