"""Plain-text loader: UTF-8 ``.txt`` files, no headings, titled by file stem."""

from __future__ import annotations

from pathlib import Path

from knowledge.loaders.base import file_metadata, file_mtime, read_text, source_of
from knowledge.types import SourceDocument


class TextLoader:
    """Loads ``.txt`` files as UTF-8 text."""

    content_type = "text/plain"
    extensions: tuple[str, ...] = (".txt",)

    def load(self, path: Path, *, collection: str = "default") -> SourceDocument:
        """Load a text file.

        Args:
            path: File to read.
            collection: Collection recorded on the document.

        Returns:
            The document, titled by the file stem, with no headings.

        Raises:
            LoaderError: The file is unreadable or not valid UTF-8.
        """
        path = Path(path)
        return SourceDocument(
            source=source_of(path),
            title=path.stem,
            text=read_text(path),
            content_type=self.content_type,
            collection=collection,
            modified_at=file_mtime(path),
            metadata=file_metadata(path),
        )
