"""Supabase Storage loader against the recorded Storage API shapes (respx; no network)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx
from pydantic import SecretStr

from graphs.core.settings import Settings
from knowledge.loaders.base import LoaderError, UnsupportedFormatError
from knowledge.loaders.supabase import (
    NOT_CONFIGURED,
    StorageObject,
    StorageUri,
    SupabaseNotConfiguredError,
    SupabaseStorage,
    load_bytes,
    parse_uri,
)
from knowledge.sources import (
    NO_OBJECTS,
    LocalFile,
    StorageFile,
    normalise_spec,
    open_sources,
    require_supabase,
)
from tests.fakes.supabase_storage import KEY, URL, FakeStorage

GUIDE = b"# Wellness guide\n\n## Booking\n\nBook a session at the front desk.\n"


@pytest.fixture
def fake() -> FakeStorage:
    return FakeStorage(
        {
            "docs": {
                "handbook/guide.md": GUIDE,
                "handbook/faq.txt": b"Parking is free after six.",
                "handbook/policies/refunds.md": b"# Refunds\n\nFull refund 36 hours ahead.",
                "handbook/.emptyFolderPlaceholder": b"",
                "handbook/logo.png": b"\x89PNG",
                "other/elsewhere.md": b"# Elsewhere",
            }
        }
    )


@pytest.fixture
def mock(fake: FakeStorage) -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        fake.install(router)
        yield router


@pytest.fixture
async def storage(mock: respx.MockRouter) -> AsyncIterator[SupabaseStorage]:
    client = await SupabaseStorage.connect(URL, KEY)
    yield client
    await client.aclose()


SETTINGS = Settings(supabase_url=URL, supabase_key=SecretStr(KEY))


def test_parse_uri() -> None:
    assert parse_uri("supabase://docs/handbook/") == StorageUri("docs", "handbook")
    assert parse_uri("supabase://docs") == StorageUri("docs", "")
    assert str(parse_uri("supabase://docs//a//b.md")) == "supabase://docs/a/b.md"
    assert normalise_spec("supabase://docs/handbook/") == "supabase://docs/handbook"
    for bad in ("supabase:///x", "supabase://docs/../etc", "s3://docs/x"):
        with pytest.raises(ValueError):
            parse_uri(bad)


def test_settings_aliases_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPABASE_URL", URL)
    monkeypatch.setenv("GRACE_SUPABASE_KEY", "sekrit")
    s = Settings()
    assert s.supabase_url == URL and s.supabase_key is not None
    assert s.supabase_key.get_secret_value() == "sekrit"
    assert "sekrit" not in repr(s) and "sekrit" not in str(s.model_dump())


def test_require_supabase_names_the_settings() -> None:
    require_supabase(Settings(), ["/srv/docs"])  # local only: nothing needed
    with pytest.raises(SupabaseNotConfiguredError) as err:
        require_supabase(Settings(supabase_url=URL), ["supabase://docs"])
    assert "SUPABASE_URL" in str(err.value) and "SUPABASE_KEY" in str(err.value)


async def test_list_walks_folders_pages_and_skips_hidden(
    storage: SupabaseStorage, fake: FakeStorage
) -> None:
    objects = await storage.list_objects("docs", "handbook", page_size=2)
    assert [o.path for o in objects] == [
        "handbook/faq.txt", "handbook/guide.md", "handbook/logo.png",
        "handbook/policies/refunds.md",
    ]  # fmt: skip
    guide = objects[1]
    assert guide.size == len(GUIDE) and guide.updated_at is not None
    # the exact bodies storage3 sends: one folder level per call, paged by offset
    first = fake.list_bodies[0]
    assert first == {"limit": 2, "offset": 0, "prefix": "handbook",
                     "sortBy": {"column": "name", "order": "asc"}}  # fmt: skip
    handbook = [b["offset"] for b in fake.list_bodies if b["prefix"] == "handbook"]
    assert handbook == [0, 2, 4]  # 5 entries (hidden one included) in pages of 2
    assert any(b["prefix"] == "handbook/policies" for b in fake.list_bodies)


async def test_download_and_load_by_extension(storage: SupabaseStorage) -> None:
    obj = StorageObject("docs", "handbook/guide.md")
    data = await storage.download(obj)
    assert data == GUIDE
    doc = load_bytes(data, obj, collection="kb")
    assert doc.source == "supabase://docs/handbook/guide.md"
    assert doc.title == "Wellness guide" and doc.content_type == "text/markdown"
    assert [h.title for h in doc.headings] == ["Wellness guide", "Booking"]
    assert doc.metadata["bucket"] == "docs" and doc.collection == "kb"
    txt = load_bytes(b"plain", StorageObject("docs", "a/notes.txt"))
    assert txt.title == "notes"  # the object's own stem, not a temporary name
    with pytest.raises(UnsupportedFormatError) as err:
        load_bytes(b"x", StorageObject("docs", "logo.png"))
    assert err.value.path == "supabase://docs/logo.png"
    with pytest.raises(LoaderError) as bad:
        load_bytes(b"\xff\xfe\xfa", StorageObject("docs", "bad.md"))
    assert bad.value.path == "supabase://docs/bad.md" and "UTF-8" in bad.value.reason


@pytest.mark.parametrize("http_404", [False, True])
async def test_missing_bucket_and_object(http_404: bool, fake: FakeStorage) -> None:
    fake.http_404 = http_404  # older Storage: 400 with a 404 body; newer: 404
    with respx.mock(assert_all_called=False) as router:
        fake.install(router)
        storage = await SupabaseStorage.connect(URL, KEY)
        try:
            with pytest.raises(LoaderError) as nob:
                await storage.list_objects("nope", "x")
            assert "Bucket not found" in nob.value.reason and "404" in nob.value.reason
            with pytest.raises(LoaderError) as noo:
                await storage.download(StorageObject("docs", "handbook/gone.md"))
            assert noo.value.path == "supabase://docs/handbook/gone.md"
            assert "Object not found" in noo.value.reason
        finally:
            await storage.aclose()


async def test_bad_key_and_network_errors(mock: respx.MockRouter) -> None:
    storage = await SupabaseStorage.connect(URL, "wrong-key")
    try:
        with pytest.raises(LoaderError) as err:
            await storage.list_objects("docs")
        assert "refused" in err.value.reason and "403" in err.value.reason
        assert "wrong-key" not in str(err.value)
    finally:
        await storage.aclose()
    down = "https://down.supabase.co"
    mock.post(f"{down}/storage/v1/object/list/docs").mock(side_effect=httpx.ConnectError("boom"))
    storage = await SupabaseStorage.connect(down, KEY)
    try:
        with pytest.raises(LoaderError, match="unreachable"):
            await storage.list_objects("docs")
    finally:
        await storage.aclose()


async def test_open_sources_mixes_local_and_storage(
    mock: respx.MockRouter, tmp_path: object
) -> None:
    from pathlib import Path

    local = Path(str(tmp_path)) / "local.md"
    local.write_text("# Local")
    specs = [
        str(local), "supabase://docs/handbook", "supabase://nope/x",
        "supabase://docs/handbook/gone.md", "supabase://docs/empty",
    ]  # fmt: skip
    async with open_sources(specs, None, settings=SETTINGS) as items:
        assert isinstance(items[0], LocalFile)
        remote = [str(i) for i in items if isinstance(i, StorageFile)]
        assert remote == [
            "supabase://docs/handbook/faq.txt", "supabase://docs/handbook/guide.md",
            "supabase://docs/handbook/policies/refunds.md", "supabase://docs/handbook/gone.md",
        ]  # fmt: skip
        errors = {e.path: e.reason for e in items if isinstance(e, LoaderError)}
        assert "Bucket not found" in errors["supabase://nope/x"]
        assert errors["supabase://docs/empty"] == NO_OBJECTS
        gone = next(i for i in items if str(i) == "supabase://docs/handbook/gone.md")
        with pytest.raises(LoaderError, match="Object not found"):
            await gone.load("default")  # type: ignore[union-attr]


async def test_open_sources_without_settings_refuses_each_uri() -> None:
    async with open_sources(["supabase://docs/a"], None, settings=Settings()) as items:
        assert len(items) == 1 and isinstance(items[0], LoaderError)
        assert items[0].reason == NOT_CONFIGURED
