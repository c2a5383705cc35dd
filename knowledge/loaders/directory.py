"""Load every supported file under a folder, filtered by globs and an optional ``.graceignore``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from knowledge.loaders.base import LoaderError
from knowledge.loaders.registry import load_path, supported_extensions
from knowledge.types import SourceDocument

DEFAULT_INCLUDE: tuple[str, ...] = tuple(f"**/*{ext}" for ext in supported_extensions())
"""One ``**/*.ext`` pattern per supported extension."""

DEFAULT_EXCLUDE: tuple[str, ...] = (".*",)
"""Hidden files and folders (``.git``, ``.venv``, ``.graceignore`` itself)."""

IGNORE_FILE = ".graceignore"


def discover_files(
    root: str | Path,
    *,
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    ignore_file: str | None = IGNORE_FILE,
) -> list[Path]:
    """List the files under ``root`` that :func:`load_directory` would load.

    Patterns use gitignore syntax and are matched against the POSIX path relative to ``root``:
    ``**/*.md`` matches at any depth, ``docs/*.md`` only directly in ``docs``, ``drafts/``
    a whole folder, ``!keep.md`` re-includes. A file is kept when it matches ``include`` and
    matches neither ``exclude`` nor the patterns of ``root/<ignore_file>`` (when that exists).

    Args:
        root: Folder to walk (symlinked folders are not followed).
        include: Patterns a file must match.
        exclude: Patterns that drop files and prune whole folders.
        ignore_file: Name of a gitignore-style file in ``root``; ``None`` disables it.

    Returns:
        Matching files, sorted by relative path.

    Raises:
        LoaderError: ``root`` is not a folder, or the ignore file cannot be read.
    """
    from pathspec import GitIgnoreSpec  # lazy: ~40 ms to import, only needed to walk folders

    root = Path(root)
    if not root.is_dir():
        raise LoaderError(root, "not a directory")
    ignore_lines = list(exclude)
    if ignore_file and (root / ignore_file).is_file():
        try:
            ignore_lines += (root / ignore_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise LoaderError(root / ignore_file, f"cannot read ignore file: {exc}") from exc
    wanted = GitIgnoreSpec.from_lines(include)
    ignored = GitIgnoreSpec.from_lines(ignore_lines)
    found: list[tuple[str, Path]] = []
    for folder, dirs, files in os.walk(root):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = [d for d in dirs if not ignored.match_file(f"{prefix}{d}/")]
        for name in files:
            rel = prefix + name
            if wanted.match_file(rel) and not ignored.match_file(rel):
                found.append((rel, Path(folder) / name))
    return [path for _, path in sorted(found)]


def load_directory(
    root: str | Path,
    *,
    collection: str = "default",
    include: Sequence[str] = DEFAULT_INCLUDE,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    ignore_file: str | None = IGNORE_FILE,
) -> Iterator[SourceDocument | LoaderError]:
    """Load every matching file under ``root``, one result per file, in sorted path order.

    A file that fails does not stop the walk: its :class:`LoaderError` is yielded in its place
    (use :func:`partition_results` to separate documents from errors). Files are read lazily,
    one at a time. See :func:`discover_files` for the pattern rules.

    Args:
        root: Folder to walk.
        collection: Collection recorded on every document.
        include: Patterns a file must match (default: every supported extension).
        exclude: Patterns that drop files and folders (default: hidden ones).
        ignore_file: Gitignore-style file in ``root`` adding exclusions; ``None`` disables it.

    Yields:
        A :class:`SourceDocument` per loaded file, or the :class:`LoaderError` it raised.

    Raises:
        LoaderError: ``root`` is not a folder (raised on first iteration).
    """
    for path in discover_files(root, include=include, exclude=exclude, ignore_file=ignore_file):
        try:
            yield load_path(path, collection=collection)
        except LoaderError as exc:
            yield exc


def partition_results(
    results: Iterable[SourceDocument | LoaderError],
) -> tuple[list[SourceDocument], list[LoaderError]]:
    """Split :func:`load_directory` output into ``(documents, errors)``, each in input order."""
    documents: list[SourceDocument] = []
    errors: list[LoaderError] = []
    for item in results:
        if isinstance(item, LoaderError):
            errors.append(item)
        else:
            documents.append(item)
    return documents, errors
