"""Server process for ``grace bench crash``: the real app, with turns that take a while.

Usage: ``python -m evals.bench.crash_server PORT TURN_S`` (``DATABASE_URL`` in the
environment). Same as the API benchmark's server (dev mode, fixed router, no embedding model)
except that the fake chat model takes ``TURN_S`` seconds per reply, so that a ``kill -9`` can
land in the middle of turns. Crash recovery runs as in ``grace serve``.
"""

from __future__ import annotations

import asyncio
import sys

from agents.testing import FixedRouter, NoEmbedder, SlowChatModel


async def _serve(port: int, turn_s: float) -> None:
    import uvicorn

    from api.app import create_app
    from graphs.core.database import Database
    from graphs.core.settings import get_settings
    from graphs.runtime import GraceRuntime

    settings = get_settings()
    db = await Database.connect(settings)
    rt = await GraceRuntime.open(
        settings, db=db, model=SlowChatModel(delay_s=turn_s), router=FixedRouter(),
        embedder=NoEmbedder(), knowledge=False,
    )  # fmt: skip
    app = create_app(settings, runtime=rt, dev=True)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False)  # fmt: skip
    try:
        await uvicorn.Server(config).serve()
    finally:
        await rt.close()
        await db.close()


if __name__ == "__main__":
    from api.cli.console import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(_serve(int(sys.argv[1]), float(sys.argv[2])))
