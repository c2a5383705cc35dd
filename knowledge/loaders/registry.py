"""Pick a loader by file extension and load one path."""

from __future__ import annotations

from pathlib import Path

from knowledge.loaders.base import Loader, LoaderError, UnsupportedFormatError
from knowledge.loaders.html import HtmlLoader
from knowledge.loaders.markdown import MarkdownLoader
from knowledge.loaders.pdf import PdfLoader
from knowledge.loaders.text import TextLoader
from knowledge.types import SourceDocument

LOADERS: tuple[Loader, ...] = (MarkdownLoader(), TextLoader(), HtmlLoader(), PdfLoader())
"""Every built-in loader; the first one claiming an extension wins."""


def supported_extensions() -> tuple[str, ...]:
    """Return the lower-case suffixes (with dot) that :func:`load_path` accepts, in loader order."""
    return tuple(ext for loader in LOADERS for ext in loader.extensions)


def loader_for(path: str | Path) -> Loader:
    """Return the loader for ``path``'s extension (case-insensitive).

    Raises:
        UnsupportedFormatError: No loader handles the extension.
    """
    suffix = Path(path).suffix.lower()
    for loader in LOADERS:
        if suffix in loader.extensions:
            return loader
    supported = ", ".join(supported_extensions())
    raise UnsupportedFormatError(
        path, f"unsupported file type {suffix or '(no extension)'!r}; supported: {supported}"
    )


def load_path(path: str | Path, *, collection: str = "default") -> SourceDocument:
    """Load one file with the loader its extension selects.

    Args:
        path: A Markdown, text, HTML or PDF file.
        collection: Collection recorded on the document.

    Returns:
        The loaded document.

    Raises:
        UnsupportedFormatError: The extension is not supported.
        LoaderError: The file is missing, a folder, unreadable or corrupt.
    """
    path = Path(path)
    loader = loader_for(path)
    if not path.exists():
        raise LoaderError(path, "no such file")
    if not path.is_file():
        raise LoaderError(path, "not a regular file")
    return loader.load(path, collection=collection)
