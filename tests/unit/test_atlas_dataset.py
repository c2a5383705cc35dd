"""The Atlas eval set: schema, facts in their sections, frozen test split (issue 14)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from evals.atlas_data import (
    DATASET_DIR,
    QUESTION_TYPES,
    AtlasQuestion,
    SeedsMissingError,
    check_question,
    corpus_root,
    dataset_file,
    load_split,
    normalise,
)

FROZEN_TEST_SHA256 = "ceadbf658fc2cd81989a839130b95f8dd37144f639237a7e37fb26d5707f168b"


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("atlas_build", DATASET_DIR / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seeds_are_present_or_the_suite_fails() -> None:
    # No skip: without ../shared/seeds the eval set cannot be checked, and that is a failure.
    root = corpus_root("seeds")
    assert (root / "operational-workflows.md").is_file()


def test_missing_seeds_raise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import evals.atlas_data as data

    monkeypatch.setattr(data, "SEEDS_DIR", tmp_path)
    with pytest.raises(SeedsMissingError):
        data.corpus_root("seeds")


def test_test_split_is_frozen() -> None:
    digest = hashlib.sha256(dataset_file("test").read_bytes()).hexdigest()
    assert digest == FROZEN_TEST_SHA256
    assert (DATASET_DIR / "test.sha256").read_text().strip() == FROZEN_TEST_SHA256


@pytest.mark.parametrize("split", ["dev", "test"])
def test_every_fact_is_in_its_section(split: str) -> None:
    questions = load_split(split)  # type: ignore[arg-type]
    problems = [p for q in questions for p in check_question(q)]
    assert problems == []


@pytest.mark.parametrize("split", ["dev", "test"])
def test_sizes_and_types(split: str) -> None:
    questions = load_split(split)  # type: ignore[arg-type]
    types = {t: sum(q.type == t for q in questions) for t in QUESTION_TYPES}
    assert all(n >= 10 for n in types.values()), types
    docs = {q.document for q in questions if q.corpus == "seeds"}
    assert len(docs - {None}) == 4
    assert any(q.corpus == "starter" for q in questions)


def test_at_least_150_questions_and_splits_are_distinct() -> None:
    dev, test = load_split("dev"), load_split("test")
    assert len(dev) + len(test) >= 150
    assert {normalise(q.question) for q in dev}.isdisjoint(normalise(q.question) for q in test)
    assert {q.authoring_pass for q in dev}.isdisjoint(q.authoring_pass for q in test)


def test_dev_rebuilds_from_sources() -> None:
    build = _build_module()
    rebuilt = build.parse("dev")
    assert rebuilt == load_split("dev")


def test_check_catches_a_fact_outside_its_section() -> None:
    good = load_split("dev")[0]
    bad = good.model_copy(update={"facts": ("payment_timeout_never_written",)})
    assert check_question(bad)


def test_schema_rejects_unanswerable_with_facts() -> None:
    with pytest.raises(ValueError):
        AtlasQuestion(
            id="atlas-dev-999",
            split="dev",
            authoring_pass="dev-a",
            corpus="seeds",
            type="unanswerable",
            question="?",
            facts=("x",),
        )
