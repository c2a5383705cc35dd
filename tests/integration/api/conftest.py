"""The API on a real database: a pre-opened offline runtime, the app, an httpx client.

The runtime uses a stub router and the hashing embedder, so no model loads; chat turns run
offline (``model=None``) unless a test passes a scripted model to :func:`make_client`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from agents.testing import HashingEmbedder, StubRouter
from api.app import create_app
from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.runtime import GraceRuntime

MakeClient = Callable[..., Awaitable[httpx.AsyncClient]]


def api_settings(**overrides: Any) -> Settings:
    """Test settings: a generous rate limit (schemathesis sends many requests)."""
    return Settings(rate_limit="100000/minute", **overrides)


@pytest.fixture
async def make_client(db: Database) -> AsyncIterator[MakeClient]:
    """``await make_client(model=..., router=..., dev=True)`` → a client on a started app."""
    async with AsyncExitStack() as stack:

        async def make(
            *, model: Any = None, router: Any = None, dev: bool = True, **settings: Any
        ) -> httpx.AsyncClient:
            rt = await GraceRuntime.open(
                db=db, model=model, embedder=HashingEmbedder(256),
                router=router or StubRouter(default="solari"),
            )  # fmt: skip
            stack.push_async_callback(rt.close)
            app = create_app(api_settings(**settings), runtime=rt, dev=dev)
            await stack.enter_async_context(LifespanManager(app))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://grace.test"
            )
            await stack.enter_async_context(client)
            client.app = app  # type: ignore[attr-defined]
            return client

        yield make


@pytest.fixture
async def client(make_client: MakeClient) -> httpx.AsyncClient:
    """A dev-mode client (keyless requests are the admin ``dev``), offline runtime."""
    return await make_client()


def app_of(client: httpx.AsyncClient) -> FastAPI:
    """The app behind a test client."""
    return client.app  # type: ignore[attr-defined,no-any-return]


def sse_events(text: str) -> list[tuple[str, str]]:
    """Parse a Server-Sent Events body into ``(event, data)`` pairs (comments skipped)."""
    out: list[tuple[str, str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            out.append((event, "\n".join(data)))
    return out


async def new_key(client: httpx.AsyncClient, name: str, role: str) -> str:
    """Create an API key with ``role`` on the client's app; returns the plaintext key."""
    from api.auth.keys import ApiKeyStore

    app = app_of(client)
    store = ApiKeyStore(app.state.db, app.state.settings, dev=app.state.dev)
    _, plaintext = await store.create(name, role)
    return plaintext


def auth(key: str) -> dict[str, str]:
    """The ``Authorization`` header for ``key``."""
    return {"Authorization": f"Bearer {key}"}
