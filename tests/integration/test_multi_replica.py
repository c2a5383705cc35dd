"""Two ``grace serve`` replicas and one ``grace worker`` on one Postgres and one Redis.

Real processes on loopback, sharing the test database (``DATABASE_URL``), Redis, the data
directory (uploads: a shared volume in production) and the queue. Offline language model.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.auth.keys import ApiKeyStore
from graphs.core.database import Database
from graphs.core.settings import Settings
from tests.integration.redis_support import REDIS_URL, delete_arq_job, delete_prefix, new_prefix

# Three processes each load the runtime and the embedding model: allow for a busy machine.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

GRACE = str(Path(sys.executable).parent / "grace")
SECRET = "multi-replica-test-secret-" + "k" * 24
RATE_LIMIT = 30  # per key per minute, shared by both replicas through Redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    a: str
    b: str
    env: dict[str, str]
    logs: Path


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    prefix = new_prefix()
    data_dir = Path(tmp_path / "data")
    data_dir.mkdir()
    env = {
        **os.environ, "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
        "GRACE_SECRET_KEY": SECRET, "GRACE_RATE_LIMIT": f"{RATE_LIMIT}/minute",
        "GRACE_QUEUE_NAME": f"{prefix}queue", "GRACE_EVENTS_STREAM": f"{prefix}events",
        "GRACE_CACHE_PREFIX": f"{prefix}cache:",
        "GRACE_DATA_DIR": str(data_dir), "GRACE_LLM_PROVIDER": "offline",
        "GRACE_LOG_LEVEL": "WARNING", "GRACE_DB_POOL_MAX_SIZE": "4",
    }  # fmt: skip
    ports = [_free_port(), _free_port()]
    procs: list[subprocess.Popen[bytes]] = []
    for name, cmd in [
        ("a", [GRACE, "serve", "--host", "127.0.0.1", "--port", str(ports[0])]),
        ("b", [GRACE, "serve", "--host", "127.0.0.1", "--port", str(ports[1])]),
        ("worker", [GRACE, "worker"]),
    ]:
        log = (tmp_path / f"{name}.log").open("wb")
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        deadline = time.monotonic() + 180
        for url in urls:
            while True:
                assert all(p.poll() is None for p in procs), _tail(tmp_path)
                assert time.monotonic() < deadline, "replicas not ready\n" + _tail(tmp_path)
                try:
                    if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
        yield Stack(urls[0], urls[1], env, tmp_path)
    finally:
        _stop(procs)
        delete_prefix(prefix)


def _tail(folder: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in folder.glob("*.log")
    )


async def _key(db: Database, name: str, role: str) -> dict[str, str]:
    store = ApiKeyStore(db, Settings(secret_key=SECRET))
    _, plaintext = await store.create(name, role)
    return {"Authorization": f"Bearer {plaintext}"}


async def test_replicas_share_threads_jobs_escalations_and_rate_limits(
    stack: Stack, db: Database
) -> None:
    client = await _key(db, "ada", "client")
    staff = await _key(db, "maria", "staff")
    admin = await _key(db, "ops", "admin")
    limited = await _key(db, "busy-form", "client")
    async with httpx.AsyncClient(timeout=60) as http:
        # A thread started on replica A continues on replica B.
        first = await http.post(f"{stack.a}/v1/chat", headers=client,
                                json={"message": "When is the gallery open?"})  # fmt: skip
        assert first.status_code == 200, first.text
        thread_id = first.json()["thread_id"]
        follow_up = {"message": "And on Sunday?", "thread_id": thread_id}
        second = await http.post(f"{stack.b}/v1/chat", headers=client, json=follow_up)
        assert second.status_code == 200, second.text
        assert second.json()["thread_id"] == thread_id and second.json()["turn"] == 2
        seen = (await http.get(f"{stack.a}/v1/threads/{thread_id}", headers=client)).json()
        assert [m["content"] for m in seen["messages"] if m["role"] == "user"] == [
            "When is the gallery open?", "And on Sunday?"
        ]  # fmt: skip

        # An ingest posted to A is run by the worker and searchable from B.
        text = "# Sculpture garden\n\nThe sculpture garden opens at dawn and closes at dusk."
        accepted = await http.post(f"{stack.a}/v1/knowledge/ingest", headers=admin, json={
            "collection": "garden", "documents": [{"name": "garden.md", "text": text}]
        })  # fmt: skip
        assert accepted.status_code == 202, accepted.text
        job_url = f"{stack.b}/v1/knowledge/jobs/{accepted.json()['job_id']}"
        deadline = time.monotonic() + 60
        while (job := (await http.get(job_url, headers=staff)).json())["status"] != "done":
            assert job["status"] != "failed", job
            assert time.monotonic() < deadline, f"job not done: {job}\n{_tail(stack.logs)}"
            time.sleep(0.3)
        assert job["files_done"] == 1
        delete_arq_job(job["id"])
        found = await http.post(f"{stack.b}/v1/knowledge/search", headers=staff, json={
            "query": "When does the sculpture garden open?", "collections": ["garden"]
        })  # fmt: skip
        assert found.status_code == 200, found.text
        assert "dawn" in found.json()["items"][0]["text"]

        # An escalation resolved on B resumes the thread that A served.
        human = {"message": "I want to talk to a real person please"}
        asked = await http.post(f"{stack.a}/v1/chat", headers=client, json=human)
        turn = asked.json()
        assert turn["level"] == 4 and turn["escalation"], turn
        resolved = await http.post(
            f"{stack.b}/v1/escalations/{turn['escalation']['id']}/resolve", headers=staff,
            json={"approve": True, "note": "called back"},
        )  # fmt: skip
        assert resolved.status_code == 200, resolved.text
        thread = (await http.get(f"{stack.a}/v1/threads/{turn['thread_id']}",
                                 headers=client)).json()  # fmt: skip
        assert thread["escalation"] is None and thread["turn"] == 1
        assert thread["messages"][-1]["role"] == "assistant"

        # One rate limit per key across both replicas.
        codes = []
        for i in range(RATE_LIMIT + 2):
            r = await http.get(f"{(stack.a, stack.b)[i % 2]}/v1/agents", headers=limited)
            codes.append(r.status_code)
        assert codes[:RATE_LIMIT] == [200] * RATE_LIMIT
        assert codes[RATE_LIMIT:] == [429, 429]
