"""Ingestion over HTTP cannot escape its roots, revive archived documents or accept bad input."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from knowledge.loaders.directory import OUTSIDE_ROOTS
from tests.integration.api.conftest import MakeClient, app_of

pytestmark = pytest.mark.integration


async def _job(client: httpx.AsyncClient, location: str) -> dict[str, object]:
    await app_of(client).state.background.wait(timeout=60)
    job = (await client.get(location)).json()
    assert job["status"] == "done", job
    return job  # type: ignore[no-any-return]


async def test_symlink_out_of_a_root_is_refused_and_never_served(
    make_client: MakeClient, tmp_path: Path
) -> None:
    root, outside = tmp_path / "kb", tmp_path / "private"
    root.mkdir()
    outside.mkdir()
    (root / "parking.txt").write_text("Parking is free behind the wellness center.")
    (outside / "salaries.md").write_text("# Salaries\n\nThe curator earns 91000 a year.\n")
    (root / "salaries.md").symlink_to(outside / "salaries.md")
    client = await make_client(data_dir=tmp_path / "data", api_ingest_roots=[root])

    r = await client.post("/v1/knowledge/ingest", json={"paths": [str(root)]})
    assert r.status_code == 202, r.text
    job = await _job(client, r.json()["location"])
    assert (job["files_done"], job["files_failed"]) == (1, 1)
    assert job["errors"] == [{"source": str(root / "salaries.md"), "error": OUTSIDE_ROOTS}]
    r = await client.post("/v1/knowledge/search", json={"query": "curator salary", "k": 50})
    assert all("Salaries" not in item["text"] for item in r.json()["items"])
    assert all("91000" not in item["text"] for item in r.json()["items"])

    # the link named directly is refused before any job exists
    r = await client.post("/v1/knowledge/ingest", json={"paths": [str(root / "salaries.md")]})
    assert r.status_code == 403 and r.json()["type"].endswith("/path-not-allowed")


async def test_missing_path_under_a_root_is_a_422_not_a_job(
    make_client: MakeClient, tmp_path: Path
) -> None:
    (tmp_path / "kb").mkdir()
    client = await make_client(data_dir=tmp_path / "data", api_ingest_roots=[tmp_path / "kb"])
    r = await client.post("/v1/knowledge/ingest", json={"paths": [str(tmp_path / "kb/nope.md")]})
    assert r.status_code == 422 and r.json()["type"].endswith("/path-not-found"), r.text
    assert (await client.get("/v1/knowledge/jobs")).json()["items"] == []


async def test_archived_upload_stays_archived_unless_reactivated(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client(data_dir=tmp_path / "data")
    body = {"documents": [{"name": "hours.md", "text": "# Hours\n\nOpen on Sundays at ten."}]}
    r = await client.post("/v1/knowledge/ingest", json=body)
    assert (await _job(client, r.json()["location"]))["files_done"] == 1
    rt = app_of(client).state.runtime
    from graphs.workflows.engine import WorkflowEngine
    from knowledge.documents import DocumentRepository

    repo = DocumentRepository(rt.db, WorkflowEngine(rt.db))
    (doc,) = await repo.list()
    await repo.archive(doc.id, operator="maria", reason="closed on Sundays now")

    r = await client.post("/v1/knowledge/ingest", json=body)
    job = await _job(client, r.json()["location"])
    assert (job["files_done"], job["files_failed"]) == (0, 1), job
    assert (await repo.get(doc.id)).state == "archived"
    r = await client.post("/v1/knowledge/search", json={"query": "Sundays", "threshold": -1.0})
    assert r.json()["items"] == []

    r = await client.post("/v1/knowledge/ingest", json={**body, "reactivate": True})
    assert (await _job(client, r.json()["location"]))["files_done"] == 1
    assert (await repo.get(doc.id)).state == "active"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/knowledge/search", {"query": "hours", "mmr": 0}),
        ("/v1/knowledge/search", {"query": "hours", "hybrid": "true"}),
        ("/v1/knowledge/search", {"query": "hours", "k": "5"}),
        ("/v1/knowledge/search", {"query": "hours", "k": 5.5}),
        ("/v1/knowledge/search", {"query": "hours", "threshold": True}),
        ("/v1/knowledge/search", {"query": "hours", "k": True}),
        ("/v1/knowledge/search", {"query": "hours", "collections": ["x" * 65]}),
        (
            "/v1/knowledge/ingest",
            {"documents": [{"name": "a.md", "text": "x"}], "chunk_overlap": False},
        ),
        (
            "/v1/knowledge/ingest",
            {"documents": [{"name": "a.md", "text": "x"}], "reactivate": 1},
        ),
        ("/v1/escalations/0c9d1c1e-58a4-4a53-a1d7-8b7f1e7f6b10/resolve", {"approve": 0}),
        ("/v1/escalations/0c9d1c1e-58a4-4a53-a1d7-8b7f1e7f6b10/resolve", {"approve": "yes"}),
        (
            "/v1/chat/completions",
            {"model": "grace", "stream": 0, "messages": [{"role": "user", "content": "hi"}]},
        ),
    ],
)
async def test_booleans_and_integers_are_strict(
    client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    r = await client.post(path, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/validation-error")


async def test_integral_numbers_are_integers_as_in_json_schema(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/knowledge/search", json={"query": "hours", "k": 3.0})
    assert r.status_code == 200, r.text
