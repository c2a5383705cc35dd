"""The starter corpus loads into an empty knowledge base only, once (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.testing import HashingEmbedder
from graphs.core.database import Database
from knowledge.ingest import IngestOptions, Ingestor
from knowledge.starter import (
    STARTER_COLLECTION,
    knowledge_base_is_empty,
    load_starter_corpus,
    starter_corpus_dir,
)

pytestmark = pytest.mark.integration


def _shipped_files() -> int:
    return sum(1 for p in starter_corpus_dir().rglob("*.md") if p.name != "README.md")  # ignored


async def test_loads_into_an_empty_knowledge_base_once(db: Database) -> None:
    embedder = HashingEmbedder(64)
    assert await knowledge_base_is_empty(db)
    job = await load_starter_corpus(db, embedder)
    assert job is not None and job.files_failed == 0
    assert job.files_done == _shipped_files() > 10 and job.chunks_written > 0
    assert job.collection == STARTER_COLLECTION
    assert not await knowledge_base_is_empty(db)
    assert await load_starter_corpus(db, embedder) is None  # second start: nothing to do


async def test_never_loads_next_to_existing_documents(db: Database, tmp_path: Path) -> None:
    (tmp_path / "own.md").write_text("# Our own policy\n\nWe open at nine every morning.\n")
    await Ingestor(db, HashingEmbedder(64)).ingest([tmp_path], IngestOptions(collection="own"))
    assert await load_starter_corpus(db, HashingEmbedder(64)) is None
    async with db.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM kb_documents")
        row = await cur.fetchone()
    assert row is not None and row[0] == 1


async def test_two_starts_at_once_load_it_once(db: Database) -> None:
    jobs = await asyncio.gather(*(load_starter_corpus(db, HashingEmbedder(64)) for _ in range(3)))
    assert sum(job is not None for job in jobs) == 1
    async with db.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM kb_documents")
        row = await cur.fetchone()
    assert row is not None and row[0] == _shipped_files()
