"""Servers for the load benchmarks: in this event loop, or as a separate process.

* :func:`serving` runs an ASGI app under uvicorn inside the current event loop, on a free
  loopback port (tests that drive the API with synchronous HTTP tools, e.g. schemathesis).
* :func:`bench_servers` starts ``python -m evals.bench.api_server PORT`` processes: the real
  app and runtime with an instant fake chat model and a fixed router, as a deployment would run
  them, so the load generator does not share the server's event loop (``grace bench api``
  and ``grace bench scale``); or, with ``offline``, the runtime a user without an LLM key
  runs (real router, retrieval, offline replies).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx


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


@contextmanager
def child_processes(
    commands: Sequence[Sequence[str]], env: dict[str, str], logs: Sequence[Path]
) -> Iterator[None]:
    """Run each command as a child process for the block, its output in the matching log.

    The processes are terminated when the block ends (killed after 30 s) and the logs closed.
    """
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as files:
        try:
            for command, log in zip(commands, logs, strict=True):
                out = files.enter_context(log.open("wb"))
                procs.append(
                    subprocess.Popen(list(command), env=env, stdout=out, stderr=subprocess.STDOUT)
                )
            yield
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


@contextmanager
def bench_servers(
    count: int, env: dict[str, str], logs: Path, *, knowledge: bool = False, offline: bool = False
) -> Iterator[list[str]]:
    """Start ``count`` benchmark server processes; yields their base URLs.

    Args:
        count: Processes to start (replicas).
        env: Their environment (``DATABASE_URL`` and any ``GRACE_*`` settings).
        logs: Folder for each process's output (``server<i>.log``).
        knowledge: Load the local embedding model and serve the knowledge base (search).
        offline: Serve the runtime a user without an LLM key runs instead: the real local
            router, retrieval over the knowledge base and offline replies (no fake model, no
            fixed router).

    The processes are terminated when the block ends; use :func:`wait_ready` first.
    """
    ports = [free_port() for _ in range(count)]
    extra = (["--knowledge"] if knowledge else []) + (["--offline"] if offline else [])
    commands = [[sys.executable, "-m", "evals.bench.api_server", str(p), *extra] for p in ports]
    with child_processes(commands, env, [logs / f"server{i}.log" for i in range(count)]):
        yield [f"http://127.0.0.1:{p}" for p in ports]


async def wait_ready(urls: Sequence[str], logs: Path | None = None, timeout_s: float = 180) -> None:
    """Wait until every server answers ``GET /healthz``.

    Raises:
        TimeoutError: one did not within ``timeout_s`` (its log's tail is in the message).
    """
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=5) as client:
        for i, url in enumerate(urls):
            while True:
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    log = logs / f"server{i}.log" if logs else None
                    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
                    raise TimeoutError(f"benchmark server {url} did not start\n{tail}")
                await asyncio.sleep(0.3)


async def _serve(port: int, knowledge: bool, offline: bool = False) -> None:
    """Serve the app until terminated (fake model and fixed router, or ``offline``).

    ``offline`` serves the default keyless runtime: the real router, retrieval, offline replies.
    """
    import uvicorn

    from agents.testing import FixedRouter, InstantChatModel, NoEmbedder
    from api.app import create_app
    from graphs.core.database import Database
    from graphs.core.settings import get_settings
    from graphs.runtime import GraceRuntime

    settings = get_settings()
    db = await Database.connect(settings)
    embedder: Any = NoEmbedder()
    if knowledge:
        from knowledge.embedding.factory import get_default_embedder

        embedder = get_default_embedder(settings)
        embedder.embed_query("warm up")
    if offline:  # what `grace serve` runs without an LLM key
        rt = await GraceRuntime.open(settings, db=db, model=None, knowledge=True)
        warm = getattr(getattr(rt.deps.retriever, "embedder", None), "warmup", None)
        if warm is not None:
            await asyncio.to_thread(warm)
    else:
        rt = await GraceRuntime.open(
            settings, db=db, model=InstantChatModel(), router=FixedRouter(), embedder=embedder,
            knowledge=knowledge,
        )  # fmt: skip
    app = create_app(settings, runtime=rt, dev=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, backlog=2048)  # fmt: skip
    try:
        await uvicorn.Server(config).serve()
    finally:
        await rt.close()
        await db.close()


if __name__ == "__main__":
    from api.cli.console import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(
            _serve(int(sys.argv[1]), "--knowledge" in sys.argv[2:], "--offline" in sys.argv[2:])
        )
