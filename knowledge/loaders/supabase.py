"""Supabase Storage as a document source: ``supabase://BUCKET/PREFIX``.

Objects are listed through the ``supabase`` client's Storage API (``POST
/storage/v1/object/list/{bucket}``, one folder level per call, paged with ``limit``/``offset``;
folders come back as entries with ``id: null`` and are walked), downloaded (``GET
/storage/v1/object/{bucket}/{path}``) and handed to the loader their extension selects
(:mod:`knowledge.loaders.registry`), exactly as a local file of that name would be. The
document's identity (``source``) is the logical ``supabase://bucket/path``, so re-ingesting an
unchanged object writes nothing, wherever it was downloaded to.

Errors of the Storage API (missing bucket, missing object, refused key) and of the network
become :class:`~knowledge.loaders.base.LoaderError` naming the URI: the ingest reports them
per file like a local file it cannot read.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from knowledge.loaders.base import LoaderError, UnsupportedFormatError
from knowledge.loaders.registry import loader_for, supported_extensions
from knowledge.types import SourceDocument

if TYPE_CHECKING:
    import httpx
    from storage3 import AsyncStorageClient

    from graphs.core.settings import Settings

SCHEME = "supabase://"
#: Objects asked for per list call (the Storage API's default page size).
PAGE_SIZE = 100
#: Seconds before a Storage request gives up.
TIMEOUT_S = 30.0
#: The message of :class:`SupabaseNotConfiguredError` (names the settings, never a value).
NOT_CONFIGURED = (
    "Supabase Storage is not configured: set SUPABASE_URL and SUPABASE_KEY "
    "(or GRACE_SUPABASE_URL and GRACE_SUPABASE_KEY)"
)


class SupabaseNotConfiguredError(RuntimeError):
    """A ``supabase://`` source was given but ``SUPABASE_URL`` / ``SUPABASE_KEY`` are unset."""

    def __init__(self, message: str = NOT_CONFIGURED) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class StorageUri:
    """A parsed ``supabase://BUCKET/PREFIX``.

    Attributes:
        bucket: Bucket id (never empty).
        path: Object key or folder prefix inside the bucket, without leading or trailing ``/``
            (``""``: the whole bucket).
    """

    bucket: str
    path: str = ""

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.path}" if self.path else f"{SCHEME}{self.bucket}"


def is_supabase_uri(spec: str | Path) -> bool:
    """True when ``spec`` is a ``supabase://`` URI (a string; a ``Path`` never is)."""
    return isinstance(spec, str) and spec.lower().startswith(SCHEME)


def parse_uri(spec: str) -> StorageUri:
    """Parse ``supabase://BUCKET[/PREFIX]``.

    Raises:
        ValueError: Not a ``supabase://`` URI, no bucket, or a ``.``/``..`` path segment
            (the Storage client refuses those too).
    """
    if not is_supabase_uri(spec):
        raise ValueError(f"not a supabase:// URI: {spec!r}")
    rest = spec[len(SCHEME) :]
    bucket, _, path = rest.partition("/")
    path = path.strip("/")
    if not bucket:
        raise ValueError(f"{spec!r} names no bucket (supabase://BUCKET/PREFIX)")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValueError(f"{spec!r}: object keys must not contain '.' or '..' segments")
    return StorageUri(bucket, "/".join(parts))


@dataclass(frozen=True)
class StorageObject:
    """One object found in a bucket.

    Attributes:
        bucket: Bucket id.
        path: Full object key (``folder/file.md``).
        size: Size in bytes, when the listing gave it.
        updated_at: Last modification (UTC), when the listing gave it.
    """

    bucket: str
    path: str
    size: int | None = None
    updated_at: datetime | None = None

    @property
    def uri(self) -> str:
        """The document identity: ``supabase://bucket/path``."""
        return str(StorageUri(self.bucket, self.path))


def storage_error(uri: str, exc: Exception) -> LoaderError:
    """A :class:`LoaderError` for ``uri`` explaining a Storage API or network failure."""
    from storage3.exceptions import StorageApiError

    if isinstance(exc, StorageApiError):
        status, message = str(exc.status), str(exc.message)
        if status == "404" or exc.code in ("not_found", "NoSuchKey", "NoSuchBucket"):
            return LoaderError(uri, f"not found in Supabase Storage: {message} ({status})")
        return LoaderError(uri, f"Supabase Storage refused the request: {message} ({status})")
    return LoaderError(uri, f"Supabase Storage unreachable: {type(exc).__name__}: {exc}")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class SupabaseStorage:
    """Lists and downloads objects of a Supabase project's Storage.

    Args:
        storage: The ``supabase`` client's Storage client (``client.storage``).
        http: The HTTP client it uses, closed by :meth:`aclose` (None: nothing to close).
    """

    def __init__(self, storage: AsyncStorageClient, http: httpx.AsyncClient | None = None) -> None:
        self.storage = storage
        self._http = http

    @classmethod
    async def connect(cls, url: str, key: str) -> SupabaseStorage:
        """A client for the project at ``url`` with API key ``key`` (no request is made yet).

        Raises:
            ValueError: ``url`` is not an ``http(s)://`` URL.
        """
        import httpx
        from supabase import AsyncClientOptions, acreate_client
        from supabase.lib.client_options import DEFAULT_HEADERS
        from supabase_auth import AsyncMemoryStorage

        if not url.startswith(("http://", "https://")):
            raise ValueError("SUPABASE_URL must be an http(s):// URL")
        http = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=True)
        options = AsyncClientOptions(
            headers=dict(DEFAULT_HEADERS), auto_refresh_token=False, persist_session=False,
            storage=AsyncMemoryStorage(), httpx_client=http,
        )  # fmt: skip
        try:
            client = await acreate_client(url, key, options=options)
        except Exception:
            await http.aclose()
            raise
        return cls(client.storage, http)

    @classmethod
    async def from_settings(cls, settings: Settings) -> SupabaseStorage:
        """A client from ``settings.supabase_url`` / ``settings.supabase_key``.

        Raises:
            SupabaseNotConfiguredError: Either setting is unset.
        """
        if not settings.supabase_url or settings.supabase_key is None:
            raise SupabaseNotConfiguredError()
        return await cls.connect(settings.supabase_url, settings.supabase_key.get_secret_value())

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.aclose()

    async def _list_page(self, bucket: str, folder: str, offset: int, limit: int) -> list[Any]:
        page = await self.storage.from_(bucket).list(
            folder, {"limit": limit, "offset": offset, "sortBy": {"column": "name", "order": "asc"}}
        )
        return list(page or [])

    async def list_objects(
        self, bucket: str, prefix: str = "", *, page_size: int = PAGE_SIZE
    ) -> list[StorageObject]:
        """Every object under folder ``prefix`` of ``bucket``, at any depth, sorted by key.

        Hidden names (starting with ``.``, e.g. the dashboard's ``.emptyFolderPlaceholder``)
        are skipped, files and folders alike, as local discovery skips them.

        Args:
            bucket: Bucket id.
            prefix: Folder inside the bucket (``""``: the whole bucket).
            page_size: Entries asked for per list call (pages until a short page).

        Raises:
            LoaderError: The bucket does not exist, the key is refused or Storage is unreachable.
        """
        found: list[StorageObject] = []
        folders = [prefix.strip("/")]
        while folders:
            folder = folders.pop()
            offset = 0
            while True:
                try:
                    page = await self._list_page(bucket, folder, offset, page_size)
                except Exception as exc:  # StorageApiError, httpx errors
                    raise storage_error(str(StorageUri(bucket, folder)), exc) from exc
                for entry in page:
                    name = str(entry.get("name") or "")
                    if not name or name.startswith("."):
                        continue
                    key = f"{folder}/{name}" if folder else name
                    if entry.get("id") is None:  # a folder: walk it
                        folders.append(key)
                        continue
                    meta = entry.get("metadata") or {}
                    size = meta.get("size", meta.get("contentLength"))
                    found.append(
                        StorageObject(
                            bucket, key, int(size) if isinstance(size, int) else None,
                            _parse_time(entry.get("updated_at") or meta.get("lastModified")),
                        )
                    )  # fmt: skip
                if len(page) < page_size:
                    break
                offset += len(page)
        return sorted(found, key=lambda o: o.path)

    async def download(self, obj: StorageObject) -> bytes:
        """The object's bytes.

        Raises:
            LoaderError: No such object (or bucket), key refused, Storage unreachable.
        """
        try:
            return await self.storage.from_(obj.bucket).download(obj.path)
        except Exception as exc:  # StorageApiError, httpx errors, ValueError (dot segments)
            raise storage_error(obj.uri, exc) from exc


def loadable(objects: Iterable[StorageObject]) -> list[StorageObject]:
    """The objects a loader handles (by extension), as a folder walk keeps local files."""
    exts = supported_extensions()
    return [o for o in objects if PurePosixPath(o.path).suffix.lower() in exts]


def load_bytes(
    data: bytes,
    obj: StorageObject,
    *,
    collection: str = "default",
) -> SourceDocument:
    """Load a downloaded object with the loader its extension selects.

    The bytes are written to a private temporary folder under the object's own file name (so
    titles that fall back to the file stem read as they would locally), loaded, and the file
    removed. The document's ``source`` is ``obj.uri`` and ``modified_at`` the object's.

    Args:
        data: The object's content.
        obj: Where it came from.
        collection: Collection recorded on the document.

    Returns:
        The document, with ``metadata["storage"] = "supabase"`` and ``metadata["bucket"]``.

    Raises:
        UnsupportedFormatError: No loader handles the extension.
        LoaderError: The loader cannot read the content (corrupt PDF, invalid UTF-8…), with
            the URI as its path.
    """
    name = PurePosixPath(obj.path).name
    try:
        loader = loader_for(name)
    except UnsupportedFormatError as exc:
        raise UnsupportedFormatError(obj.uri, exc.reason) from None
    with tempfile.TemporaryDirectory(prefix="grace-supabase-") as tmp:
        local = Path(tmp) / name
        local.write_bytes(data)
        try:
            doc = loader.load(local, collection=collection)
        except LoaderError as exc:
            raise LoaderError(obj.uri, exc.reason) from exc
    metadata = {**doc.metadata, "storage": "supabase", "bucket": obj.bucket}
    return dataclasses.replace(doc, source=obj.uri, modified_at=obj.updated_at, metadata=metadata)
