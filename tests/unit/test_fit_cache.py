"""The on-disk fit cache: hits, misses, corrupt and mismatched files, atomic writes."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from agents import fit_cache


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"coef": [1.0, 2.0], "fit": self.calls}


def test_key_depends_on_encoder_data_and_code() -> None:
    base = fit_cache.fit_key(encoder="m", data=[("a", "x")], code="v1")
    assert base == fit_cache.fit_key(encoder="m", data=[["a", "x"]], code="v1")  # tuple = list
    assert base != fit_cache.fit_key(encoder="m2", data=[("a", "x")], code="v1")
    assert base != fit_cache.fit_key(encoder="m", data=[("a", "y")], code="v1")
    assert base != fit_cache.fit_key(encoder="m", data=[("a", "x")], code="v2")
    assert fit_cache.fit_key(encoder="m", data={"b": 1, "a": 2}, code="v") == fit_cache.fit_key(
        encoder="m", data={"a": 2, "b": 1}, code="v"
    )
    with pytest.raises(TypeError):
        fit_cache.fit_key(encoder="m", data=object(), code="v")


def test_second_call_loads_instead_of_fitting(tmp_path: Path) -> None:
    fit = Counter()
    key = fit_cache.fit_key(encoder="m", data=[1], code="v1")
    first = fit_cache.load_or_fit(tmp_path, "thing", key, fit)
    again = fit_cache.load_or_fit(tmp_path, "thing", key, fit)
    assert fit.calls == 1 and again == first
    assert fit_cache.cache_path(tmp_path, "thing", key).exists()
    assert not list(tmp_path.glob("*.tmp"))  # the temporary file was renamed into place


def test_no_cache_dir_always_fits(tmp_path: Path) -> None:
    fit = Counter()
    fit_cache.load_or_fit(None, "thing", "k" * 64, fit)
    fit_cache.load_or_fit(None, "thing", "k" * 64, fit)
    assert fit.calls == 2


def test_changed_input_refits_and_replaces_the_old_file(tmp_path: Path) -> None:
    fit = Counter()
    old = fit_cache.fit_key(encoder="m", data=[1], code="v1")
    new = fit_cache.fit_key(encoder="m", data=[2], code="v1")
    fit_cache.load_or_fit(tmp_path, "thing", old, fit)
    fit_cache.load_or_fit(tmp_path, "other", old, fit)
    fit_cache.load_or_fit(tmp_path, "thing", new, fit)
    assert fit.calls == 3
    assert not fit_cache.cache_path(tmp_path, "thing", old).exists()
    assert fit_cache.cache_path(tmp_path, "other", old).exists()  # another name is kept


@pytest.mark.parametrize("content", [b"", b"not a pickle", pickle.dumps(["no", "dict"])])
def test_corrupt_file_is_refitted(tmp_path: Path, content: bytes) -> None:
    fit = Counter()
    key = fit_cache.fit_key(encoder="m", data=[1], code="v1")
    path = fit_cache.cache_path(tmp_path, "thing", key)
    path.write_bytes(content)
    value = fit_cache.load_or_fit(tmp_path, "thing", key, fit)
    assert fit.calls == 1 and value["fit"] == 1
    assert fit_cache.load(tmp_path, "thing", key) == value  # rewritten, readable


def test_file_with_another_key_inside_is_a_miss(tmp_path: Path) -> None:
    key = fit_cache.fit_key(encoder="m", data=[1], code="v1")
    other = fit_cache.fit_key(encoder="m", data=[9], code="v1")
    path = fit_cache.cache_path(tmp_path, "thing", key)
    path.write_bytes(pickle.dumps({"key": other, "value": "stale"}))
    assert fit_cache.load(tmp_path, "thing", key) is None
    assert not path.exists()


def test_failed_write_still_returns_the_fit(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    fit = Counter()
    value = fit_cache.load_or_fit(blocker, "thing", "a" * 64, fit)
    assert value["fit"] == 1


def test_unpicklable_value_leaves_no_temporary_file(tmp_path: Path) -> None:
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        fit_cache.store(tmp_path, "thing", "b" * 64, lambda: None)
    assert list(tmp_path.iterdir()) == []
