"""The ``Loader`` protocol, the typed ``LoaderError`` and file helpers shared by every loader."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from knowledge.types import SourceDocument


class LoaderError(Exception):
    """A file could not be loaded (unreadable, undecodable, corrupt or unsupported).

    Attributes:
        path: The file's path as given (string).
        reason: Human-readable cause, without the path.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the two-argument constructor picklable (errors cross process boundaries in workers).
        return (type(self), (self.path, self.reason))


class UnsupportedFormatError(LoaderError):
    """No loader handles the file's extension."""


@runtime_checkable
class Loader(Protocol):
    """Reads one kind of file into a :class:`SourceDocument`.

    Attributes:
        content_type: MIME type of the documents it returns.
        extensions: Lower-case file suffixes it handles, with the dot (``".md"``).
    """

    content_type: str
    extensions: tuple[str, ...]

    def load(self, path: Path, *, collection: str = "default") -> SourceDocument:
        """Load ``path``.

        Raises:
            LoaderError: The file cannot be read or parsed.
        """
        ...


def read_bytes(path: Path) -> bytes:
    """Return the file's bytes.

    Raises:
        LoaderError: The file is missing, a folder or unreadable.
    """
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoaderError(path, f"cannot read file: {exc.strerror or exc}") from exc


def read_text(path: Path) -> str:
    """Return the file decoded as UTF-8, a leading BOM dropped and line endings made ``LF``.

    Offsets into the result are character offsets, so they match the file as an editor shows it.

    Raises:
        LoaderError: The file is unreadable or not valid UTF-8.
    """
    raw = read_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(path, f"not valid UTF-8 (byte {exc.start})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def file_mtime(path: Path) -> datetime:
    """Return the file's modification time as an aware UTC datetime.

    Raises:
        LoaderError: The file cannot be stat'ed.
    """
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError as exc:
        raise LoaderError(path, f"cannot stat file: {exc.strerror or exc}") from exc


def source_of(path: Path) -> str:
    """Return the document identity for ``path``: its absolute, resolved path as a string."""
    return str(path.resolve())


def file_metadata(path: Path, **extra: Any) -> dict[str, Any]:
    """Return the metadata every loader records (``extension``, ``size_bytes``) plus ``extra``.

    ``None`` values in ``extra`` are dropped so metadata stays compact and JSON-serialisable.
    """
    meta: dict[str, Any] = {"extension": path.suffix.lower()}
    with contextlib.suppress(OSError):
        meta["size_bytes"] = path.stat().st_size
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta
