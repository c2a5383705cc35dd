"""The test-wide network guard (tests/conftest.py) refuses every non-loopback connection.

Each refusal test fails if the guard is missing: TEST-NET-3 (203.0.113.0/24, RFC 5737) is never
routed, so without the guard the attempt times out or is unreachable, never a
``NetworkBlockedError``; the timeout keeps such a failure quick.
"""

import asyncio
import socket

import pytest

from tests.conftest import NetworkBlockedError


def test_external_connection_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s,
        pytest.raises(NetworkBlockedError),
    ):
        s.settimeout(1)
        s.connect(("203.0.113.7", 443))


def test_external_connect_ex_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s,
        pytest.raises(NetworkBlockedError),
    ):
        s.settimeout(1)
        s.connect_ex(("203.0.113.7", 443))


async def test_asyncio_connections_are_refused_too() -> None:
    """The path asyncio HTTP clients take (``loop.sock_connect`` after resolving the name)."""
    with pytest.raises(NetworkBlockedError):
        await asyncio.wait_for(asyncio.open_connection("203.0.113.7", 443), timeout=2)


def test_loopback_is_allowed() -> None:
    """A real loopback server is reachable through the guard (connect and connect_ex)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(2)
        port = server.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            assert client.connect_ex(("127.0.0.1", port)) == 0
