"""``POST /v1/knowledge/ingest`` with ``sources``: Supabase Storage behind respx."""

from __future__ import annotations

from pathlib import Path

import pytest
import respx

from tests.fakes.supabase_storage import KEY, URL, FakeStorage
from tests.integration.api.conftest import MakeClient, app_of

pytestmark = pytest.mark.integration

HOURS = b"# Opening hours\n\nThe gallery opens Tuesday to Sunday from ten to six.\n"


async def test_503_when_supabase_is_not_configured_and_nothing_is_written(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client(data_dir=tmp_path / "data")
    body = {"sources": ["supabase://kb/handbook"],
            "documents": [{"name": "a.md", "text": "# A\n\nText."}]}  # fmt: skip
    r = await client.post("/v1/knowledge/ingest", json=body)
    assert r.status_code == 503, r.text
    problem = r.json()
    assert problem["type"].endswith("/supabase-not-configured")
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "SUPABASE_URL" in problem["detail"] and "SUPABASE_KEY" in problem["detail"]
    assert (await client.get("/v1/knowledge/jobs")).json()["items"] == []
    assert not (tmp_path / "data" / "uploads").exists()  # the upload was not saved either


async def test_malformed_source_is_a_422(make_client: MakeClient, tmp_path: Path) -> None:
    client = await make_client(data_dir=tmp_path / "data", supabase_url=URL, supabase_key=KEY)
    r = await client.post("/v1/knowledge/ingest", json={"sources": ["supabase:///nobucket"]})
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-source"), r.text
    r = await client.post("/v1/knowledge/ingest", json={"sources": ["/etc/passwd"]})
    assert r.status_code == 403 and r.json()["type"].endswith("/path-not-allowed")


async def test_202_job_reads_the_bucket_and_reports_missing_ones(
    make_client: MakeClient, tmp_path: Path
) -> None:
    fake = FakeStorage({"kb": {"handbook/hours.md": HOURS}})
    client = await make_client(data_dir=tmp_path / "data", supabase_url=URL, supabase_key=KEY)
    with respx.mock(assert_all_called=False) as mock:
        fake.install(mock)
        r = await client.post(
            "/v1/knowledge/ingest",
            json={"sources": ["supabase://kb/handbook", "supabase://gone/x"],
                  "collection": "handbook"},
        )  # fmt: skip
        assert r.status_code == 202, r.text
        assert r.headers["location"] == r.json()["location"]
        await app_of(client).state.background.wait(timeout=60)
    job = (await client.get(r.json()["location"])).json()
    assert job["status"] == "done", job
    assert job["paths"] == ["supabase://kb/handbook", "supabase://gone/x"]
    assert (job["files_done"], job["files_failed"]) == (1, 1)
    assert job["errors"][0]["source"] == "supabase://gone/x"
    assert "Bucket not found" in job["errors"][0]["error"]
    assert fake.downloads == ["handbook/hours.md"]
    found = await client.post(
        "/v1/knowledge/search", json={"query": "when does the gallery open", "threshold": -1.0}
    )
    assert found.json()["items"][0]["citation"]["source"] == "supabase://kb/handbook/hours.md"
