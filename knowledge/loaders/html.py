"""HTML loader: main content extracted as Markdown by ``trafilatura`` so headings survive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.loaders.base import LoaderError, file_metadata, file_mtime, read_bytes, source_of
from knowledge.loaders.markdown import markdown_document
from knowledge.types import SourceDocument

_METADATA_FIELDS = ("author", "date", "description", "sitename", "language")


def html_to_markdown(html: bytes | str) -> tuple[str, dict[str, Any]]:
    """Extract the main content of an HTML page as Markdown, plus its metadata.

    Navigation, footers and boilerplate are dropped by ``trafilatura``; headings become ATX
    ``#`` lines. When no main content is found, all visible text is used instead.

    Args:
        html: The page (bytes are decoded by trafilatura's charset detection).

    Returns:
        ``(markdown, metadata)``; metadata holds ``title``, ``author``, ``date``, ``description``,
        ``sitename`` and ``language`` when the page declares them.
    """
    import trafilatura  # lazy: heavy import, only needed for HTML

    text = trafilatura.extract(
        html,
        output_format="markdown",
        include_formatting=True,
        include_links=False,
        include_comments=False,
        favor_recall=True,
    )
    if not text:
        text = trafilatura.html2txt(html) or ""
    found = trafilatura.extract_metadata(html)
    meta: dict[str, Any] = {}
    if found is not None:
        for name in ("title", *_METADATA_FIELDS):
            value = getattr(found, name, None)
            if isinstance(value, str) and value.strip():
                meta[name] = value.strip()
    return str(text).strip() + "\n" if text else "", meta


class HtmlLoader:
    """Loads ``.html``/``.htm`` files as Markdown extracted from the main content."""

    content_type = "text/html"
    extensions: tuple[str, ...] = (".html", ".htm")

    def load(self, path: Path, *, collection: str = "default") -> SourceDocument:
        """Load an HTML file.

        Args:
            path: File to read.
            collection: Collection recorded on the document.

        Returns:
            The document: ``text`` is Markdown (offsets refer to it, not to the HTML), ``title``
            comes from the page metadata (``<title>``, ``og:title`` or the single ``<h1>``, as
            trafilatura ranks them), else the first ``#`` heading, else the file stem.

        Raises:
            LoaderError: The file is unreadable or the HTML cannot be parsed.
        """
        path = Path(path)
        raw = read_bytes(path)
        try:
            text, meta = html_to_markdown(raw)
        except Exception as exc:  # trafilatura/lxml raise a variety of parser errors
            raise LoaderError(path, f"cannot parse HTML: {exc}") from exc
        title = meta.pop("title", None)
        return markdown_document(
            text,
            source=source_of(path),
            title=title,
            collection=collection,
            content_type=self.content_type,
            modified_at=file_mtime(path),
            metadata=file_metadata(path, **meta),
        )
