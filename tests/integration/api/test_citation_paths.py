"""Clients never see server paths: citations and Sources lines over HTTP, by caller role."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from agents.testing import StubRouter
from tests.integration.api.conftest import MakeClient, app_of, auth, new_key, sse_events

pytestmark = pytest.mark.integration

HOURS = """# Opening hours

## Gallery

The gallery is open Tuesday to Sunday from ten until six and closed on Mondays.

### Holidays

On public holidays the gallery opens at noon and closes at five.
"""
QUESTION = "When does the gallery open on public holidays?"


async def _ingested(make_client: MakeClient, tmp_path: Path) -> tuple[httpx.AsyncClient, Path]:
    kb = tmp_path / "kb"
    (kb / "policies").mkdir(parents=True)
    doc = kb / "policies" / "hours.md"
    doc.write_text(HOURS)
    client = await make_client(
        data_dir=tmp_path / "data", api_ingest_roots=[kb], router=StubRouter(default="atlas")
    )
    r = await client.post(
        "/v1/knowledge/ingest", json={"paths": [str(kb)], "collection": "handbook"}
    )
    assert r.status_code == 202, r.text
    await app_of(client).state.background.wait(timeout=60)
    job = (await client.get(r.json()["location"])).json()
    assert (job["status"], job["files_done"]) == ("done", 1), job
    return client, doc.resolve()


async def test_a_client_turn_shows_no_server_path_staff_see_it(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client, doc = await _ingested(make_client, tmp_path)
    server_dir = str(tmp_path.resolve())
    client_key = auth(await new_key(client, "visitor", "client"))
    staff_key = auth(await new_key(client, "front-desk", "staff"))

    r = await client.post("/v1/chat", json={"message": QUESTION}, headers=client_key)
    assert r.status_code == 200, r.text
    turn = r.json()
    assert "noon" in turn["reply"]  # answered from the document
    assert turn["citations"], turn
    assert server_dir not in r.text and str(tmp_path) not in r.text
    cite = turn["citations"][0]
    assert cite["source"] == "handbook:policies/hours.md"
    assert cite["label"].startswith("Opening hours")  # one chunk: the document's own heading
    assert "path" not in cite or cite["path"] is None
    sources = turn["reply"].split("Sources:", 1)[1]
    assert f"{cite['label']} (handbook:" in sources and "hours.md)" in sources

    streamed = await client.post(
        "/v1/chat", params={"stream": "true"}, json={"message": QUESTION}, headers=client_key
    )
    assert streamed.status_code == 200
    events = sse_events(streamed.text)
    assert any(e == "citation" for e, _ in events) and any(e == "message" for e, _ in events)
    assert server_dir not in streamed.text

    completion = await client.post(
        "/v1/chat/completions",
        json={"model": "atlas", "messages": [{"role": "user", "content": QUESTION}]},
        headers=client_key,
    )
    assert completion.status_code == 200, completion.text
    assert "noon" in completion.text and server_dir not in completion.text
    chunks = await client.post(
        "/v1/chat/completions",
        json={"model": "atlas", "stream": True,
              "messages": [{"role": "user", "content": QUESTION}]},
        headers=client_key,
    )  # fmt: skip
    assert chunks.status_code == 200 and server_dir not in chunks.text

    staff = await client.post("/v1/chat", json={"message": QUESTION}, headers=staff_key)
    assert staff.status_code == 200, staff.text
    staff_cite = staff.json()["citations"][0]
    assert staff_cite["path"] == str(doc)
    assert staff_cite["source"] == "handbook:policies/hours.md"
    streamed = await client.post(
        "/v1/chat", params={"stream": "true"}, json={"message": QUESTION}, headers=staff_key
    )
    cited = [json.loads(d) for e, d in sse_events(streamed.text) if e == "citation"]
    assert cited and cited[0]["path"] == str(doc)
