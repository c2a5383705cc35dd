"""One ingestion path: every entry point's run has the side effects of a worker's run.

Without Redis, ``grace ingest`` and a webhook job run in-process; like a queued job run by
``grace worker`` they must publish ``job.progress`` per file and ``job.finished`` on the event
bus and invalidate the collection's retrieval cache (issue 15, item 3: the CLI's inline path
used to call ``Ingestor.ingest`` directly and skipped both).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

import knowledge.retrieval_cache as retrieval_cache
from agents.testing import HashingEmbedder
from api.cli.main import app as cli
from api.routes.webhooks import _run_ingest_job
from graphs.core.database import Database
from graphs.core.events import Event
from graphs.core.settings import get_settings
from knowledge.ingest import IngestOptions
from knowledge.jobs import JobRepository
from knowledge.queue import create_ingest_job

pytestmark = pytest.mark.integration


class RecordingBus:
    """An event bus that keeps what is published (the process's bus stands in for it)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> str | None:
        self.events.append(event)
        return None

    async def subscribe(
        self, types: Collection[str] | None = None, *, last_id: str | None = None
    ) -> AsyncIterator[Event]:  # pragma: no cover - not used
        raise NotImplementedError
        yield


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """The bus, the invalidated collections, and a fast embedder for every in-process run."""
    bus, invalidated = RecordingBus(), []
    real = retrieval_cache.invalidate_collection

    async def spy(settings: Any, db: Database, collection: str | None) -> None:
        invalidated.append(collection)
        await real(settings, db, collection)

    monkeypatch.setattr("graphs.core.events.get_event_bus", lambda settings: bus)
    monkeypatch.setattr(retrieval_cache, "invalidate_collection", spy)
    embedder = HashingEmbedder()
    monkeypatch.setattr(
        "knowledge.embedding.factory.get_default_embedder", lambda settings=None: embedder
    )
    return SimpleNamespace(bus=bus, invalidated=invalidated)


def _docs(folder: Path) -> Path:
    folder.mkdir()
    (folder / "hours.md").write_text("# Opening hours\n\nOpen Tuesday to Sunday, 10 to 18.\n")
    (folder / "parking.md").write_text("# Parking\n\nFree parking behind the gallery.\n")
    return folder


def _assert_side_effects(observed: SimpleNamespace, job: dict[str, Any], collection: str) -> None:
    progress = [e.data for e in observed.bus.events if e.type == "job.progress"]
    assert [(p["done"], p["total"]) for p in progress] == [(1, 2), (2, 2)]
    assert {p["job_id"] for p in progress} == {job["id"]}
    assert {p["outcome"] for p in progress} == {"created"}
    finished = [e.data for e in observed.bus.events if e.type == "job.finished"]
    assert len(finished) == 1
    assert finished[0]["id"] == job["id"] and finished[0]["status"] == "done"
    assert observed.invalidated == [collection]


def test_cli_inline_ingest_has_the_side_effects_of_a_worker_run(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, observed: SimpleNamespace
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    docs = _docs(tmp_path / "docs")

    result = CliRunner().invoke(cli, ["ingest", str(docs), "--collection", "kb", "--json"])

    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["status"] == "done" and job["files_done"] == 2
    _assert_side_effects(observed, job, "kb")


async def test_webhook_fallback_run_has_the_side_effects_of_a_worker_run(
    db: Database, tmp_path: Path, observed: SimpleNamespace
) -> None:
    docs = _docs(tmp_path / "docs")
    job_id = await create_ingest_job(db, [docs], IngestOptions(collection="cms"))
    state = SimpleNamespace(settings=get_settings(), db=db, runtime=None)

    await _run_ingest_job(state, job_id)  # no app.state.schedule_ingest: runs through the queue

    job = (await JobRepository(db).get(job_id)).to_dict()
    assert job["status"] == "done" and job["files_done"] == 2
    _assert_side_effects(observed, job, "cms")


async def test_starter_corpus_load_runs_as_a_job_with_the_same_side_effects(
    db: Database, observed: SimpleNamespace
) -> None:
    from knowledge.starter import STARTER_COLLECTION, load_starter_corpus

    record = await load_starter_corpus(
        db, HashingEmbedder(64), settings=get_settings(), bus=observed.bus
    )

    assert record is not None and record.status == "done"
    job = (await JobRepository(db).get(record.id)).to_dict()  # a job row like any other
    finished = [e.data for e in observed.bus.events if e.type == "job.finished"]
    assert [f["id"] for f in finished] == [job["id"]]
    progress = [e.data for e in observed.bus.events if e.type == "job.progress"]
    assert len(progress) == record.files_total > 0
    assert observed.invalidated == [STARTER_COLLECTION]
