"""Test-wide guards: isolated settings and no real network calls (LLM providers included)."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Never touch the user's real data dir or database, whatever the environment says.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="gft-data-", dir="/tmp"))
os.environ["GRACE_DATA_DIR"] = str(_DATA_DIR)
for _var in (
    "DATABASE_URL",
    "GRACE_DATABASE_URL",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GRACE_OPENAI_API_KEY",
    "GRACE_ANTHROPIC_API_KEY",
    "GRACE_LLM_PROVIDER",
    "OPENAI_BASE_URL",
    "GRACE_OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL",
    "REDIS_URL",
    "GRACE_REDIS_URL",
    "SUPABASE_URL",
    "SUPABASE_KEY",
    "GRACE_SUPABASE_URL",
    "GRACE_SUPABASE_KEY",
):
    os.environ.pop(_var, None)

from graphs.core.logs import configure_logging  # noqa: E402
from graphs.core.settings import Settings  # noqa: E402

configure_logging(Settings(log_level="WARNING"))

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"


class NetworkBlockedError(RuntimeError):
    """A test tried to open a connection outside this machine (e.g. a real LLM API call)."""


def _is_local(address: Any) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name: resolving it would already leave the machine


@pytest.fixture(autouse=True)
def _block_external_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection to a non-loopback address, so no test can call a paid LLM API."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise NetworkBlockedError(f"test tried to connect to {address!r}")
        return real_connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if not _is_local(address):
            raise NetworkBlockedError(f"test tried to connect to {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process; each test starts from the environment it sets."""
    from graphs.core.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
