"""The chunking defaults are written once (``knowledge.chunking.defaults``) and every entry point
uses them: ``IngestOptions``, the API's ``IngestRequest``, ``grace ingest`` and the factory."""

from __future__ import annotations

import inspect

import pytest
from pydantic import ValidationError

from api.cli.knowledge import ingest as cli_ingest
from api.schemas.knowledge import IngestRequest
from knowledge.chunking import defaults
from knowledge.chunking.factory import make_chunker
from knowledge.ingest import IngestOptions

DOCS = [{"name": "a.md", "text": "# A\n\nText."}]


def test_the_shipped_default_is_structured_500_80() -> None:
    assert (defaults.DEFAULT_CHUNKER, defaults.DEFAULT_CHUNK_SIZE) == ("structured", 500)
    assert defaults.DEFAULT_CHUNK_OVERLAP == 80
    assert defaults.DEFAULT_CHUNKER in defaults.CHUNKER_NAMES


def test_ingest_options_use_the_defaults() -> None:
    opts = IngestOptions()
    assert (opts.chunker, opts.chunk_size, opts.chunk_overlap) == (
        defaults.DEFAULT_CHUNKER,
        defaults.DEFAULT_CHUNK_SIZE,
        defaults.DEFAULT_CHUNK_OVERLAP,
    )


def test_api_request_uses_the_defaults_and_accepts_every_chunker() -> None:
    req = IngestRequest.model_validate({"documents": DOCS})
    assert (req.chunker, req.chunk_size, req.chunk_overlap) == (
        defaults.DEFAULT_CHUNKER,
        defaults.DEFAULT_CHUNK_SIZE,
        defaults.DEFAULT_CHUNK_OVERLAP,
    )
    for name in defaults.CHUNKER_NAMES:  # "structured" was missing from the API's list
        assert IngestRequest.model_validate({"documents": DOCS, "chunker": name}).chunker == name
    with pytest.raises(ValidationError):
        IngestRequest.model_validate({"documents": DOCS, "chunker": "tokens"})


def test_cli_ingest_defaults() -> None:
    params = inspect.signature(cli_ingest).parameters
    assert params["chunker"].default == defaults.DEFAULT_CHUNKER
    assert params["chunk_size"].default == defaults.DEFAULT_CHUNK_SIZE
    assert params["chunk_overlap"].default == defaults.DEFAULT_CHUNK_OVERLAP


def test_factory_defaults() -> None:
    chunker = make_chunker(defaults.DEFAULT_CHUNKER)
    assert chunker.name == defaults.DEFAULT_CHUNKER
    assert getattr(chunker, "chunk_size", None) == defaults.DEFAULT_CHUNK_SIZE


@pytest.mark.parametrize(
    ("module", "cls"),
    [
        ("simple", "SimpleChunker"),
        ("sentence", "SentenceChunker"),
        ("paragraph", "ParagraphChunker"),
        ("structured", "StructuredChunker"),
        ("semantic", "SemanticChunker"),
    ],
)
def test_chunker_constructors_default_to_the_defaults_module(module: str, cls: str) -> None:
    import importlib

    params = inspect.signature(
        getattr(importlib.import_module(f"knowledge.chunking.{module}"), cls)
    ).parameters
    assert params["chunk_size"].default == defaults.DEFAULT_CHUNK_SIZE
    if "chunk_overlap" in params:
        assert params["chunk_overlap"].default == defaults.DEFAULT_CHUNK_OVERLAP


def test_factory_builds_exactly_the_named_chunkers() -> None:
    from knowledge.chunking import factory

    assert set(factory._BUILDERS) == set(defaults.CHUNKER_NAMES)


def test_a_job_without_sizes_runs_with_the_defaults() -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    from knowledge.ingest import options_of
    from knowledge.jobs import JobRecord

    job = JobRecord(
        id=uuid4(), status="queued", collection="kb", chunker="sentence", operator="ana",
        paths=[], params={}, files_total=0, files_done=0, files_skipped=0, files_failed=0,
        chunks_written=0, errors=[], error=None, created_at=datetime.now(UTC), started_at=None,
        finished_at=None,
    )  # fmt: skip
    opts = options_of(job)
    assert (opts.chunk_size, opts.chunk_overlap) == (
        defaults.DEFAULT_CHUNK_SIZE,
        defaults.DEFAULT_CHUNK_OVERLAP,
    )


def test_bench_corpus_is_written_for_the_default_chunk_size() -> None:
    from evals.bench.kb_data import write_corpus

    assert inspect.signature(write_corpus).parameters["chunk_size"].default == (
        defaults.DEFAULT_CHUNK_SIZE
    )
