"""Source specs → the documents an ingestion job reads.

A job's ``paths`` are source specs: local files or folders (stored resolved) and
``supabase://BUCKET/PREFIX`` URIs (Supabase Storage, :mod:`knowledge.loaders.supabase`).
:func:`open_sources` expands them into one entry per document to load — a
:class:`LocalFile`, a :class:`StorageFile`, or the :class:`LoaderError` that refuses it — in
the order given, folders and prefixes expanded in sorted key order. Every entry loads the same
way (``await item.load(collection)``), so the ingest treats both kinds alike: same loaders (by
extension), same idempotency (the source id is the resolved path or the logical
``supabase://bucket/path``), same per-file reporting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from knowledge.loaders.base import LoaderError
from knowledge.loaders.supabase import (
    NOT_CONFIGURED,
    StorageObject,
    StorageUri,
    SupabaseNotConfiguredError,
    SupabaseStorage,
    is_supabase_uri,
    load_bytes,
    loadable,
    parse_uri,
)
from knowledge.types import SourceDocument

if TYPE_CHECKING:
    from graphs.core.settings import Settings

#: Reason recorded for a prefix under which Storage lists nothing.
NO_OBJECTS = "no objects under this prefix in Supabase Storage"


@dataclass(frozen=True)
class LocalFile:
    """A file on this machine (already checked against the job's roots)."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)

    async def load(self, collection: str) -> SourceDocument:
        """Load the file with its extension's loader (in a thread).

        Raises:
            LoaderError: Unsupported, unreadable or corrupt.
        """
        from knowledge.loaders.registry import load_path

        return await asyncio.to_thread(load_path, self.path, collection=collection)


@dataclass(frozen=True)
class StorageFile:
    """An object in a Supabase Storage bucket."""

    storage: SupabaseStorage
    obj: StorageObject

    def __str__(self) -> str:
        return self.obj.uri

    async def load(self, collection: str) -> SourceDocument:
        """Download the object and load it with its extension's loader.

        Raises:
            LoaderError: Missing object, refused key, Storage unreachable, unsupported or
                corrupt content (the URI is the error's path).
        """
        data = await self.storage.download(self.obj)
        return await asyncio.to_thread(load_bytes, data, self.obj, collection=collection)


Discovered = LocalFile | StorageFile | LoaderError


def normalise_spec(spec: str | Path) -> str:
    """The form a job records: a ``supabase://`` URI canonicalised, a local path resolved.

    Raises:
        ValueError: A malformed ``supabase://`` URI (no bucket, dot segments).
    """
    if is_supabase_uri(spec):
        return str(parse_uri(str(spec)))
    return str(Path(spec).resolve())


def uses_supabase(specs: Iterable[str | Path]) -> bool:
    """True when any spec is a ``supabase://`` URI."""
    return any(is_supabase_uri(s) for s in specs)


def supabase_configured(settings: Settings) -> bool:
    """True when ``SUPABASE_URL`` and ``SUPABASE_KEY`` are both set."""
    return bool(settings.supabase_url) and settings.supabase_key is not None


def require_supabase(settings: Settings, specs: Iterable[str | Path]) -> None:
    """Check, before a job is recorded, that its ``supabase://`` sources can be read.

    Raises:
        SupabaseNotConfiguredError: A spec is a ``supabase://`` URI and the settings are unset.
    """
    if uses_supabase(specs) and not supabase_configured(settings):
        raise SupabaseNotConfiguredError()


def discover_local(paths: Sequence[str], roots: Sequence[str] | None) -> list[Discovered]:
    """Expand local folders into their supported files, each checked against ``roots``.

    Missing paths and files resolving outside ``roots`` (``None``: no check) become per-file
    errors; the others are returned resolved, so the file read is the file checked.
    """
    from knowledge.loaders.directory import confine_to_roots, discover_files

    out: list[Discovered] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = confine_to_roots(discover_files(path), roots)
        elif path.is_file():
            found = confine_to_roots([path], roots)
        else:
            out.append(LoaderError(path, "no such file or directory"))
            continue
        out.extend(f if isinstance(f, LoaderError) else LocalFile(f) for f in found)
    return out


async def discover_storage(storage: SupabaseStorage, uri: StorageUri) -> list[Discovered]:
    """The loadable objects under ``uri`` (a folder prefix, or one object's key).

    A prefix under which nothing is listed is taken as one object's key when it has a file
    extension (a missing object is then reported when it is downloaded), else refused with
    :data:`NO_OBJECTS`. A missing bucket or refused key is one :class:`LoaderError` for ``uri``.
    """
    try:
        objects = await storage.list_objects(uri.bucket, uri.path)
    except LoaderError as exc:
        return [LoaderError(str(uri), exc.reason)]
    if objects:
        return [StorageFile(storage, o) for o in loadable(objects)]
    if uri.path and PurePosixPath(uri.path).suffix:
        return [StorageFile(storage, StorageObject(uri.bucket, uri.path))]
    return [LoaderError(str(uri), NO_OBJECTS)]


@asynccontextmanager
async def open_sources(
    specs: Sequence[str], roots: Sequence[str] | None, *, settings: Settings | None = None
) -> AsyncIterator[list[Discovered]]:
    """Expand a job's source specs into the entries to load; Storage stays open inside.

    Args:
        specs: Local paths (resolved) and ``supabase://`` URIs, as the job recorded them.
        roots: Folders local files must resolve under (``None``: no check). Storage objects
            are not files of this machine and are not checked against them.
        settings: Supabase settings (default: the process settings, read only when a
            ``supabase://`` spec is present).

    Yields:
        One entry per document (or refusal), specs in order.
    """
    storage: SupabaseStorage | None = None
    refusal: str | None = None
    out: list[Discovered] = []
    try:
        for spec in specs:
            if not is_supabase_uri(spec):
                out.extend(discover_local([spec], roots))
                continue
            try:
                uri = parse_uri(spec)
            except ValueError as exc:
                out.append(LoaderError(spec, str(exc)))
                continue
            if storage is None and refusal is None:
                storage, refusal = await _connect(settings)
            if storage is None:
                out.append(LoaderError(str(uri), refusal or NOT_CONFIGURED))
                continue
            out.extend(await discover_storage(storage, uri))
        yield out
    finally:
        if storage is not None:
            await storage.aclose()


async def _connect(settings: Settings | None) -> tuple[SupabaseStorage | None, str | None]:
    """A Storage client, or why none can be made (never the key)."""
    if settings is None:
        from graphs.core.settings import get_settings

        settings = get_settings()
    try:
        return await SupabaseStorage.from_settings(settings), None
    except SupabaseNotConfiguredError as exc:
        return None, str(exc)
    except ValueError as exc:
        return None, f"Supabase Storage client: {exc}"
