"""Signed inbound webhooks end to end on the real database: effects, refusals, replay, ingest."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from pydantic import SecretStr

from api.webhooks.verify import sign
from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.workflows.engine import WorkflowEngine
from knowledge.jobs import JobRepository
from tests.integration.security_app import build_app

pytestmark = pytest.mark.integration

NEW = "whsec_" + base64.b64encode(b"booking-secret-2026-rotation-new").decode()
OLD = "whsec_" + base64.b64encode(b"booking-secret-2025-rotation-old").decode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        secret_key=SecretStr("7d1e4b9a2c6f0e3d8b5a1c7e9f2d4b6a"),
        data_dir=tmp_path,
        webhook_secrets={"booking": [SecretStr(NEW), SecretStr(OLD)], "cms": [SecretStr(NEW)]},
    )


@pytest.fixture
async def client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(db, settings)
    app.state.queued = []

    async def schedule(job_id: UUID) -> None:
        app.state.queued.append(job_id)

    app.state.schedule_ingest = schedule
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def _post(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    *,
    msg_id: str,
    source: str = "booking",
    secret: str = NEW,
    ts: int | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = int(time.time()) if ts is None else ts
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, raw),
    }
    return await client.post(f"/v1/webhooks/{source}", content=raw, headers=headers)


async def _deliveries(db: Database) -> int:
    async with db.connection() as conn:
        row = await (await conn.execute("SELECT count(*) FROM webhook_deliveries")).fetchone()
    assert row is not None
    return int(row[0])


async def test_workflow_start_then_event_as_system(client: httpx.AsyncClient, db: Database) -> None:
    start = {"type": "workflow.start", "workflow_id": "WF-AGT-COMM", "subject": "request:r-1"}
    res = await _post(client, start, msg_id="msg_start")
    assert res.status_code == 200, res.text
    started = res.json()
    assert started["kind"] == "workflow.start" and started["state"] == "request_initiated"
    iid = started["instance_id"]

    event = {"type": "workflow.event", "instance_id": iid, "event": "request_received",
             "payload": {"channel": "web"}}  # fmt: skip
    applied = await _post(client, event, msg_id="msg_event", secret=OLD)  # rotated-out secret
    assert applied.status_code == 200, applied.text
    assert applied.json()["state"] == "pattern_verification"

    history = await WorkflowEngine(db).history(iid)
    assert [(h.event, h.actor) for h in history] == [
        ("start", "system"),
        ("request_received", "system"),
    ]
    assert history[-1].payload == {"channel": "web", "webhook": "booking"}
    assert history[-1].id == applied.json()["audit_id"]

    replay = await _post(client, event, msg_id="msg_event")
    assert replay.status_code == 409
    assert replay.json()["type"].endswith("/webhook-replayed")
    assert len(await WorkflowEngine(db).history(iid)) == 2
    assert await _deliveries(db) == 2
    # The same id from another source is another delivery.
    other = await _post(client, start, msg_id="msg_start", source="cms")
    assert other.status_code == 200


async def _quoted_booking(engine: WorkflowEngine, subject: str) -> UUID:
    """A WF-WELL-BOOK instance at ``quote_provided`` (its next steps are the client's)."""
    inst = await engine.start("WF-WELL-BOOK", subject, actor="nyra")
    await engine.apply(inst.id, "consultation_scheduled", "nyra")
    await engine.apply(inst.id, "consultation_completed", "solari")
    return inst.id


async def test_payment_received_acts_for_the_owning_persona(
    client: httpx.AsyncClient, db: Database
) -> None:
    """A payment provider reports a payment: solari's step, fired on solari's behalf, audited."""
    engine = WorkflowEngine(db)
    iid = await _quoted_booking(engine, "booking:b-pay")
    await engine.apply(iid, "client_accepted_quote", "human:ana")
    event = {"type": "workflow.event", "instance_id": str(iid), "event": "payment_received",
             "payload": {"amount_cents": 12000}}  # fmt: skip
    res = await _post(client, event, msg_id="msg_pay_1")
    assert res.status_code == 200, res.text
    assert res.json()["state"] == "payment_confirmed"
    last = (await engine.history(iid))[-1]
    assert (last.event, last.actor, last.request_id) == (
        "payment_received",
        "solari",
        "webhook:booking:msg_pay_1",
    )
    assert last.payload == {"amount_cents": 12000, "webhook": "booking"}
    assert last.id == res.json()["audit_id"]
    assert await _deliveries(db) == 1


async def test_refused_transition_writes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    engine = WorkflowEngine(db)
    iid = await _quoted_booking(engine, "booking:b-7")
    event = {
        "type": "workflow.event",
        "instance_id": str(iid),
        "event": "client_accepted_quote",
    }  # fmt: skip  (owned by human: a webhook never takes a person's decision)
    res = await _post(client, event, msg_id="msg_refused")
    assert res.status_code == 403
    assert res.json()["type"].endswith("/human-approval-required")
    assert (await engine.get(iid)).state == "quote_provided"
    assert len(await engine.history(iid)) == 3
    assert await _deliveries(db) == 0  # a later retry is not mistaken for a replay

    wrong_state = {"type": "workflow.event", "instance_id": str(iid), "event": "payment_received"}
    res = await _post(client, wrong_state, msg_id="msg_early")
    assert res.status_code == 409, res.text
    assert len(await engine.history(iid)) == 3
    assert await _deliveries(db) == 0

    unknown = {"type": "workflow.event", "instance_id": "00000000-0000-0000-0000-000000000000",
               "event": "x"}  # fmt: skip
    missing = await _post(client, unknown, msg_id="msg_unknown")
    assert missing.status_code == 404 and missing.json()["type"].endswith("/unknown-instance")
    assert await _deliveries(db) == 0


async def test_rejected_deliveries(client: httpx.AsyncClient, db: Database) -> None:
    body = {"type": "workflow.start", "workflow_id": "WF-AGT-COMM", "subject": "request:r-2"}
    raw = json.dumps(body).encode()

    unknown = await _post(client, body, msg_id="m1", source="nobody")
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/webhook-source-unknown")

    forged = await _post(
        client, body, msg_id="m2", secret="whsec_" + base64.b64encode(b"x").decode()
    )
    assert forged.status_code == 401
    assert forged.json()["type"].endswith("/webhook-signature-invalid")

    for skew in (-301, 301):  # too old, too far in the future
        stale = await _post(client, body, msg_id="m3", ts=int(time.time()) + skew)
        assert stale.status_code == 401
        assert stale.json()["type"].endswith("/webhook-timestamp-out-of-tolerance")

    unsigned = await client.post("/v1/webhooks/booking", content=raw)
    assert unsigned.status_code == 401
    assert unsigned.json()["type"].endswith("/webhook-headers-missing")

    invalid = await _post(client, {"type": "workflow.event", "instance_id": "nope"}, msg_id="m4")
    assert invalid.status_code == 422
    fields = {e["field"] for e in invalid.json()["errors"]}
    assert {"body.workflow.event.instance_id", "body.workflow.event.event"} <= fields
    not_json = await _post(client, b"{not json", msg_id="m5")
    assert not_json.status_code == 422
    assert await _deliveries(db) == 0


async def test_concurrent_replays_apply_once(client: httpx.AsyncClient, db: Database) -> None:
    body = {"type": "workflow.start", "workflow_id": "WF-AGT-COMM", "subject": "request:r-3"}
    ts = int(time.time())
    results = await asyncio.gather(*(_post(client, body, msg_id="dup", ts=ts) for _ in range(4)))
    assert sorted(r.status_code for r in results) == [200, 409, 409, 409]
    assert len(await WorkflowEngine(db).find(workflow_id="WF-AGT-COMM")) == 1


async def test_knowledge_ingest_is_queued(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    body = {
        "type": "knowledge.ingest",
        "collection": "gallery",
        "documents": [
            {"title": "Opening hours", "text": "Open Tuesday to Sunday, 10 to 18.",
             "source": "https://cms.example.com/hours"},
            {"title": "Parking", "text": "Free parking behind the gallery.",
             "source": "https://cms.example.com/parking"},
        ],
    }  # fmt: skip
    res = await _post(client, body, msg_id="ingest-1", source="cms")
    assert res.status_code == 202, res.text
    job_id = UUID(res.json()["job_id"])
    assert client.app.state.queued == [job_id]  # type: ignore[attr-defined]

    job = await JobRepository(db).get(job_id)
    assert job.status == "queued" and job.collection == "gallery"
    assert job.operator == "webhook-cms" and len(job.paths) == 2
    inbox = settings.data_dir / "webhook-inbox" / "cms" / "gallery"
    assert sorted(str(p) for p in inbox.glob("*.md")) == sorted(job.paths)
    texts = {Path(p).read_text() for p in job.paths}
    assert "# Opening hours\n\nOpen Tuesday to Sunday, 10 to 18.\n" in texts
    assert job.params["webhook"] == {"source": "cms", "delivery_id": "ingest-1"}

    bad = await _post(client, {**body, "collection": "../etc"}, msg_id="ingest-2", source="cms")
    assert bad.status_code == 422
    assert (await _post(client, body, msg_id="ingest-1", source="cms")).status_code == 409


@pytest.mark.slow
async def test_ingest_job_runs_in_background(
    db: Database, settings: Settings, local_embedder: Any
) -> None:
    """Without a queue hook the route runs the job itself after answering."""
    from types import SimpleNamespace

    app = build_app(db, settings)
    retriever = SimpleNamespace(embedder=local_embedder)
    app.state.runtime = SimpleNamespace(deps=SimpleNamespace(retriever=retriever, engine=None))
    body = {
        "type": "knowledge.ingest",
        "collection": "wellness",
        "documents": [{"title": "Sauna rules", "text": "Shower before the sauna. " * 20,
                       "source": "cms:sauna"}],
    }  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        res = await _post(c, body, msg_id="bg-1", source="cms")
    assert res.status_code == 202
    job = await JobRepository(db).get(res.json()["job_id"])
    assert job.status == "done", job.errors
    assert job.files_done == 1 and job.chunks_written >= 1


@pytest.mark.parametrize(
    "bad",
    [
        {"text": "Open on Sundays.\u0000"},
        {"title": "Hours\u0000"},
        {"source": "cms:\u0000hours"},
        {"title": "Hours\n# Injected heading"},
        {"text": "x" * 1_000_001},
    ],
)
async def test_invalid_ingest_documents_are_refused_before_the_delivery_counts(
    client: httpx.AsyncClient, db: Database, bad: dict[str, str]
) -> None:
    doc = {"title": "Hours", "text": "Open on Sundays.", "source": "cms:hours"}
    body = {"type": "knowledge.ingest", "collection": "gallery", "documents": [{**doc, **bad}]}
    res = await _post(client, body, msg_id="nul-1", source="cms")
    assert res.status_code == 422, res.text
    assert await _deliveries(db) == 0 and client.app.state.queued == []  # type: ignore[attr-defined]
    body["documents"] = [doc]  # the sender fixes it and retries with the same id
    assert (await _post(client, body, msg_id="nul-1", source="cms")).status_code == 202


async def test_collection_names_follow_the_api_rule(client: httpx.AsyncClient) -> None:
    doc = {"title": "Hours", "text": "Open on Sundays.", "source": "cms:hours"}
    body = {"type": "knowledge.ingest", "documents": [doc]}
    ok = await _post(client, {**body, "collection": "g" * 64}, msg_id="c-1", source="cms")
    assert ok.status_code == 202, ok.text
    long = await _post(client, {**body, "collection": "g" * 65}, msg_id="c-2", source="cms")
    assert long.status_code == 422


async def test_ingest_jobs_are_confined_to_the_source_inbox(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    doc = {"title": "Hours", "text": "Open on Sundays.", "source": "cms:hours"}
    body = {"type": "knowledge.ingest", "collection": "gallery", "documents": [doc]}
    res = await _post(client, body, msg_id="roots-1", source="cms")
    job = await JobRepository(db).get(res.json()["job_id"])
    inbox = settings.data_dir / "webhook-inbox" / "cms" / "gallery"
    assert job.params["roots"] == [str(inbox.resolve())]
