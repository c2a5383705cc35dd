"""Roles, the secret check and the body-size middleware (no I/O)."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from api.auth.errors import InsecureSecretError
from api.auth.principal import Principal, Role
from api.auth.setup import MIN_SECRET_LENGTH, check_secret
from api.middleware import BodySizeLimitMiddleware
from graphs.core.settings import Settings


def test_roles_are_ordered() -> None:
    client = Principal("k1", "c", Role.CLIENT)
    staff = Principal("k2", "s", Role.STAFF)
    admin = Principal("k3", "a", Role.ADMIN)
    assert client.at_least(Role.CLIENT) and not client.at_least(Role.STAFF)
    assert staff.at_least(Role.STAFF) and not staff.at_least(Role.ADMIN)
    assert admin.at_least(Role.CLIENT) and admin.at_least(Role.STAFF) and admin.at_least(Role.ADMIN)
    assert Role("staff") is Role.STAFF


GOOD = "9f2c1b7e4a0d8c3f6b5e2a1d0c9b8a7f"


@pytest.mark.parametrize(
    "secret",
    [
        None,
        "",
        "   ",
        "changeme",
        "ChangeMe",
        "secret",
        "dev",
        "short-but-random-3x9",
        "a" * 64,
        "changeme" * 5,
        "secret" * 6,
    ],
)
def test_weak_secrets_are_refused_outside_dev(secret: str | None) -> None:
    settings = Settings(secret_key=SecretStr(secret) if secret is not None else None)
    with pytest.raises(InsecureSecretError, match="GRACE_SECRET_KEY"):
        check_secret(settings, dev=False)
    check_secret(settings, dev=True)  # dev mode accepts anything


def test_a_random_secret_is_accepted() -> None:
    assert len(GOOD) == MIN_SECRET_LENGTH
    check_secret(Settings(secret_key=SecretStr(GOOD)), dev=False)


def _app(limit: int) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=limit)
    return app


async def test_body_limit_by_content_length_and_streamed() -> None:
    transport = httpx.ASGITransport(app=_app(1024))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.post("/echo", content=b"x" * 1024)
        assert ok.status_code == 200 and ok.json() == {"received": 1024}

        big = await client.post("/echo", content=b"x" * 1025)
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        body = big.json()
        assert body["type"].endswith("/payload-too-large") and body["max_body_bytes"] == 1024

        async def chunks(n: int):  # no Content-Length: chunked transfer
            for _ in range(n):
                yield b"y" * 300

        streamed_ok = await client.post("/echo", content=chunks(3))
        assert "content-length" not in streamed_ok.request.headers
        assert streamed_ok.json() == {"received": 900}
        streamed_big = await client.post("/echo", content=chunks(4))
        assert streamed_big.status_code == 413
        assert json.loads(streamed_big.content)["status"] == 413
