"""PDF loader: page text via ``pypdf``, one level-1 ``Page N`` heading per page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge.loaders.base import LoaderError, file_metadata, file_mtime, source_of
from knowledge.types import Heading, SourceDocument

PAGE_SEPARATOR = "\n\n"


def _info(reader: Any, name: str) -> str | None:
    info = reader.metadata
    value = getattr(info, name, None) if info is not None else None
    return value.strip() if isinstance(value, str) and value.strip() else None


class PdfLoader:
    """Loads ``.pdf`` files: the text layer of each page, pages joined by a blank line.

    Scanned PDFs without a text layer load with empty text (no OCR is attempted).
    """

    content_type = "application/pdf"
    extensions: tuple[str, ...] = (".pdf",)

    def load(self, path: Path, *, collection: str = "default") -> SourceDocument:
        """Load a PDF file.

        Args:
            path: File to read.
            collection: Collection recorded on the document.

        Returns:
            The document; ``headings`` has one ``Heading(1, "Page N", start)`` per page where
            ``start`` is the offset of that page's text in ``text``; ``title`` is the PDF's
            metadata title, else the file stem; ``metadata["pages"]`` is the page count.

        Raises:
            LoaderError: The file is unreadable, corrupt or encrypted with a password.
        """
        from pypdf import PdfReader  # lazy: only needed for PDFs

        path = Path(path)
        parts: list[str] = []
        headings: list[Heading] = []
        offset = 0
        try:
            reader = PdfReader(path)
            if reader.is_encrypted and not reader.decrypt(""):
                raise LoaderError(path, "PDF is encrypted with a password")
            for number, page in enumerate(reader.pages, start=1):
                if parts:
                    parts.append(PAGE_SEPARATOR)
                    offset += len(PAGE_SEPARATOR)
                headings.append(Heading(level=1, title=f"Page {number}", start=offset))
                page_text = (page.extract_text() or "").strip()
                parts.append(page_text)
                offset += len(page_text)
            title = _info(reader, "title") or path.stem
            author = _info(reader, "author")
        except LoaderError:
            raise
        except OSError as exc:
            raise LoaderError(path, f"cannot read file: {exc.strerror or exc}") from exc
        except Exception as exc:  # pypdf raises PdfReadError and plain ValueError/KeyError
            raise LoaderError(path, f"cannot parse PDF: {exc}") from exc
        return SourceDocument(
            source=source_of(path),
            title=title,
            text="".join(parts),
            content_type=self.content_type,
            collection=collection,
            headings=tuple(headings),
            modified_at=file_mtime(path),
            metadata=file_metadata(path, pages=len(headings), author=author),
        )
