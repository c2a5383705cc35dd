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

#: Reason recorded for a file refused by :func:`confine_to_roots`.
OUTSIDE_ROOTS = "resolves outside the allowed ingestion roots (refused)"


def under_roots(path: str | Path, roots: Sequence[str | Path]) -> Path | None:
    """The resolved ``path`` when it lies under one of ``roots``, else ``None``.

    Symlinks (of the file and of every folder above it) are resolved first, so a link inside
    a root that points outside it is refused; ``..`` segments are resolved the same way.

    Args:
        path: A file or folder.
        roots: Allowed folders (resolved here too).

    Returns:
        The resolved path, or ``None`` when it escapes every root.
    """
    resolved = Path(path).expanduser().resolve()
    for root in roots:
        if resolved.is_relative_to(Path(root).expanduser().resolve()):
            return resolved
    return None


def confine_to_roots(
    paths: Iterable[Path], roots: Sequence[str | Path] | None
) -> list[Path | LoaderError]:
    """Check each file against ``roots``: its resolved path, or a :class:`LoaderError`.

    Args:
        paths: Files found by :func:`discover_files` (or given directly).
        roots: Allowed folders; ``None`` allows everything (the paths are returned as given).

    Returns:
        One entry per path, in order: the resolved path when it lies under a root (so the
        file read is the one checked), or a :class:`LoaderError` with :data:`OUTSIDE_ROOTS`.
    """
    if roots is None:
        return list(paths)
    out: list[Path | LoaderError] = []
    for path in paths:
        resolved = under_roots(path, roots)
        out.append(resolved if resolved is not None else LoaderError(path, OUTSIDE_ROOTS))
    return out


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
        root: Folder to walk (symlinked folders are not followed; symlinked files are listed,
            see :func:`confine_to_roots` to refuse those pointing outside the allowed roots).
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
    roots: Sequence[str | Path] | None = None,
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
        roots: When given, a file whose resolved path (symlinks followed) is under none of
            these folders is not read: its :class:`LoaderError` is yielded instead.

    Yields:
        A :class:`SourceDocument` per loaded file, or the :class:`LoaderError` it raised.

    Raises:
        LoaderError: ``root`` is not a folder (raised on first iteration).
    """
    found = discover_files(root, include=include, exclude=exclude, ignore_file=ignore_file)
    for path in confine_to_roots(found, roots):
        if isinstance(path, LoaderError):
            yield path
            continue
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
