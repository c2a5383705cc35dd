"""GRACE_EMBEDDED_KEEP_RUNNING=false: the embedded server stops when its last process exits.

Real processes and a real embedded server: ``grace serve`` stopped by SIGTERM (uvicorn re-raises
it after shutting down, which used to kill the process before its exit hooks ran), and a
handle list holding the id of a process that died without releasing it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graphs.core.embedded import EmbeddedPostgres

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GRACE = str(Path(sys.executable).with_name("grace"))
START = (
    "from graphs.core.embedded import EmbeddedPostgres\n"
    "import sys\n"
    "EmbeddedPostgres(__import__('pathlib').Path(sys.argv[1])).start()\n"
)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="gfl-", dir="/tmp"))  # short: Unix socket path limit
    yield root
    EmbeddedPostgres(root / "pgdata").stop()
    shutil.rmtree(root, ignore_errors=True)


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        GRACE_DATA_DIR=str(data_dir),
        GRACE_EMBEDDED_KEEP_RUNNING="false",
        GRACE_LOAD_STARTER_CORPUS="false",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        HF_HUB_OFFLINE="1",
    )
    env.pop("REDIS_URL", None)
    return env


def _running(pgdata: Path, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    while EmbeddedPostgres(pgdata).status().running:
        if time.monotonic() > deadline:
            return True
        time.sleep(0.2)
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_stopped_by_sigterm_stops_the_embedded_server(data_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [GRACE, "serve", "--dev", "--port", str(port)],
        env=_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "grace serve never became ready"
            time.sleep(0.3)
        assert EmbeddedPostgres(data_dir / "pgdata").status().running
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not _running(data_dir / "pgdata", wait_s=20)


def test_a_dead_process_in_the_handle_list_does_not_keep_the_server_up(data_dir: Path) -> None:
    pgdata = data_dir / "pgdata"
    env = _env(data_dir)
    subprocess.run([sys.executable, "-c", START, str(pgdata)], env=env, check=True, timeout=120)
    assert not _running(pgdata, wait_s=10)  # a clean exit releases and stops it
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (pgdata / ".handle_pids.json").write_text(json.dumps([dead.pid]))  # died holding a handle
    subprocess.run([sys.executable, "-c", START, str(pgdata)], env=env, check=True, timeout=120)
    assert not _running(pgdata, wait_s=10)
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
