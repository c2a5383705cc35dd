"""Knowledge ingestion jobs and search over HTTP; readiness; Prometheus metrics."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from graphs.core.database import Database
from tests.integration.api.conftest import MakeClient, app_of

pytestmark = pytest.mark.integration

HOURS = """# Opening hours

The gallery is open Tuesday to Sunday from ten until six. It is closed on Mondays.

## Holidays

On public holidays the gallery opens at noon.
"""


async def _finished_job(client: httpx.AsyncClient, location: str) -> dict[str, object]:
    await app_of(client).state.background.wait(timeout=60)
    job = (await client.get(location)).json()
    assert job["status"] == "done", job
    return job  # type: ignore[no-any-return]


async def test_ingest_upload_then_search_with_citations(make_client: MakeClient,
                                                         tmp_path: Path) -> None:  # fmt: skip
    client = await make_client(data_dir=tmp_path / "data", api_ingest_roots=[tmp_path / "kb"])
    r = await client.post(
        "/v1/knowledge/ingest",
        json={"documents": [{"name": "hours.md", "text": HOURS}], "collection": "handbook"},
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"] == r.json()["location"]
    job = await _finished_job(client, r.json()["location"])
    assert (job["files_done"], job["collection"], job["operator"]) == (1, "handbook", "dev")
    assert [j["id"] for j in (await client.get("/v1/knowledge/jobs")).json()["items"]] == [
        r.json()["job_id"]
    ]

    r = await client.post(
        "/v1/knowledge/search",
        json={"query": "Is the gallery open on Tuesday to Sunday?", "collections": ["handbook"]},
    )
    items = r.json()["items"]
    assert items and items[0]["citation"]["title"] == "Opening hours"
    assert items[0]["citation"]["path"].endswith("uploads/handbook/hours.md")  # staff only
    assert items[0]["citation"]["source"] == "handbook:hours.md"  # never a server path
    r = await client.post("/v1/knowledge/search", json={"query": "gallery", "collections": ["x"]})
    assert r.json()["items"] == []

    # server-side paths: only under an allowed root
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "notes.txt").write_text("Parking is free behind the wellness center.")
    r = await client.post("/v1/knowledge/ingest", json={"paths": [str(tmp_path / "kb")]})
    assert r.status_code == 202
    assert (await _finished_job(client, r.json()["location"]))["files_done"] == 1
    r = await client.post("/v1/knowledge/ingest", json={"paths": ["/etc/passwd"]})
    assert r.status_code == 403 and r.json()["type"].endswith("/path-not-allowed")
    r = await client.post("/v1/knowledge/ingest", json={"paths": [str(tmp_path / "kb/../../x")]})
    assert r.status_code == 403
    r = await client.post("/v1/knowledge/ingest", json={})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    r = await client.get("/v1/knowledge/jobs/not-a-job")
    assert r.status_code == 404 and r.json()["type"].endswith("/unknown-job")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["database"]["ok"] is True
    assert r.json()["checks"]["redis"] == {"ok": True, "configured": False}
    llm = r.json()["checks"]["llm"]
    assert llm["ok"] is True and llm["provider"] == "offline" and llm["model"] is None

    app = app_of(client)
    real = app.state.db
    app.state.db = Database("postgresql:///nowhere?host=/tmp/no-such-dir")  # never opened
    try:
        r = await client.get("/readyz")
    finally:
        app.state.db = real
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/not-ready") and r.json()["checks"]["database"]["ok"] is False
    assert r.headers["retry-after"] == "5"


async def test_metrics_count_requests_by_route_template_and_turns(
    client: httpx.AsyncClient,
) -> None:
    turn = (await client.post("/v1/chat", json={"message": "Can I book a massage?"})).json()
    await client.get(f"/v1/threads/{turn['thread_id']}")
    await client.get("/v1/no-such-route")
    await client.post("/v1/knowledge/search", json={"query": "anything"})
    text = (await client.get("/metrics")).text
    assert 'grace_http_requests_total{method="POST",route="/v1/chat",status="200"} 1.0' in text
    assert 'route="/v1/threads/{thread_id}",status="200"' in text
    assert turn["thread_id"] not in text
    assert 'route="<unmatched>",status="404"' in text
    assert 'grace_routing_decisions_total{persona="solari"} 1.0' in text
    assert 'grace_turn_levels_total{level="1"} 1.0' in text
    assert "grace_http_request_duration_seconds_bucket" in text
    assert "grace_retrieval_duration_seconds_count 1.0" in text
