"""Serve an ASGI app with uvicorn inside the current event loop, on a free loopback port.

Used by ``grace bench api`` (real HTTP clients against a real server) and by tests that drive
the API with synchronous HTTP tools (schemathesis) from a worker thread.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(
    app: Any, *, host: str = "127.0.0.1", lifespan: str = "off"
) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn in this loop until the block ends; yields its base URL.

    Args:
        app: The ASGI app.
        host: Interface to bind (loopback by default).
        lifespan: ``"off"`` when the caller already started the app (pre-opened runtime),
            ``"on"`` to let uvicorn run the app's lifespan.
    """
    import uvicorn

    port = free_port(host)
    config = uvicorn.Config(
        app, host=host, port=port, lifespan=lifespan, log_level="warning",  # type: ignore[arg-type]
        access_log=False, backlog=2048,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
        await asyncio.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task
