"""Concurrent ingests of the same (collection, source) on real PostgreSQL: no unique violation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.testing import HashingEmbedder
from graphs.core.database import Database
from knowledge.ingest import IngestOptions, Ingestor

pytestmark = pytest.mark.integration

TEXT = """# Opening hours

The gallery opens at ten on weekdays and at noon on Sundays, and closes at six every day.
"""


async def test_two_jobs_on_one_new_source_both_finish_with_one_document(
    db: Database, tmp_path: Path
) -> None:
    """Both jobs look up the source before either writes; the second must update, not insert."""
    (tmp_path / "hours.md").write_text(TEXT)
    opts = IngestOptions(collection="gallery", chunker="paragraph", chunk_size=300)
    ingestors = [Ingestor(db, HashingEmbedder(dimension=64)) for _ in range(4)]
    jobs = await asyncio.gather(*(i.ingest([tmp_path / "hours.md"], opts) for i in ingestors))
    assert [(j.status, j.error, j.errors) for j in jobs] == [("done", None, [])] * 4
    assert [j.files_done + j.files_skipped for j in jobs] == [1] * 4
    async with db.connection() as c:
        docs = await (await c.execute("SELECT id, state FROM kb_documents")).fetchall()
        chunks = await (await c.execute("SELECT count(*) FROM kb_chunks")).fetchone()
    assert len(docs) == 1
    assert chunks is not None and chunks[0] >= 1
