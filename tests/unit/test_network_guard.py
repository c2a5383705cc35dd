import socket

import pytest

from tests.conftest import NetworkBlockedError


def test_external_connection_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s,
        pytest.raises(NetworkBlockedError),
    ):
        s.connect(("203.0.113.7", 443))


def test_external_connect_ex_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s,
        pytest.raises(NetworkBlockedError),
    ):
        s.connect_ex(("203.0.113.7", 443))


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
