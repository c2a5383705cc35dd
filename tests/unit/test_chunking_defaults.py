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
