"""Behaviour every ``Loader`` must have, written once and run on each implementation.

Subclass :class:`LoaderContract` and override the ``loader`` and ``sample`` fixtures (a small
file of the loader's type whose text contains at least one heading where the format has them).
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import pytest

from knowledge.loaders.base import Loader, LoaderError
from knowledge.loaders.registry import load_path, loader_for


class LoaderContract:
    """Override ``loader`` and ``sample`` in a subclass named ``Test…`` to run these tests."""

    @pytest.fixture
    def loader(self) -> Loader:
        raise NotImplementedError("override loader in the subclass")

    @pytest.fixture
    def sample(self) -> Path:
        raise NotImplementedError("override sample in the subclass")

    def test_satisfies_protocol(self, loader: Loader, sample: Path) -> None:
        assert isinstance(loader, Loader)
        assert sample.suffix.lower() in loader.extensions
        assert all(ext.startswith(".") and ext == ext.lower() for ext in loader.extensions)
        assert loader_for(sample) is loader

    def test_document_fields(self, loader: Loader, sample: Path) -> None:
        doc = loader.load(sample, collection="contract")
        assert doc.source == str(sample.resolve())
        assert doc.content_type == loader.content_type
        assert doc.collection == "contract"
        assert doc.title.strip() == doc.title != ""
        assert doc.text.strip()
        assert doc.modified_at is not None and doc.modified_at.utcoffset() == UTC.utcoffset(None)
        assert doc.modified_at.timestamp() == pytest.approx(sample.stat().st_mtime)
        assert doc.metadata["extension"] == sample.suffix.lower()
        json.dumps(doc.metadata)  # JSON-serialisable

    def test_headings_are_ordered_offsets_into_text(self, loader: Loader, sample: Path) -> None:
        doc = loader.load(sample)
        starts = [h.start for h in doc.headings]
        assert starts == sorted(starts)
        assert all(0 <= s <= len(doc.text) for s in starts)
        assert all(s == 0 or doc.text[s - 1] == "\n" for s in starts)  # at line starts
        assert all(h.title and 1 <= h.level <= 6 for h in doc.headings)

    def test_load_path_matches_loader(self, loader: Loader, sample: Path) -> None:
        assert load_path(sample, collection="c") == loader.load(sample, collection="c")

    def test_missing_file_is_a_loader_error(self, loader: Loader, tmp_path: Path) -> None:
        missing = tmp_path / f"missing{loader.extensions[0]}"
        with pytest.raises(LoaderError) as info:
            loader.load(missing)
        assert info.value.path == str(missing)
