"""The thread checkpointer: ``langgraph-checkpoint-postgres`` over its own connection pool.

Checkpoints use their own pool with ``synchronous_commit = off`` (PostgreSQL docs,
"Asynchronous Commit": a server crash may lose the last few hundred milliseconds of commits
but never corrupts data), while business state — workflow transitions, documents,
escalations, the thread inbox — keeps fully durable commits on the main pool. Losing a
checkpoint only means a turn is replayed from an earlier step, and workflow steps replay
through their idempotency keys.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg_pool import AsyncConnectionPool


class PooledPostgresSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` over a connection pool, without its process-wide lock.

    The base class runs every checkpoint read and write behind one ``asyncio.Lock``, which a
    single shared connection needs. Over a pool each operation takes a connection of its own,
    so the lock only made concurrent turns queue behind each other: under 50 clients at
    12.5 turns/s (``grace bench api``) the lock wait alone reached p95 34 ms per operation.

    Args:
        pool: An open pool (see :func:`open_checkpoint_pool`).
    """

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        super().__init__(pool)
        self.lock = contextlib.nullcontext()  # type: ignore[assignment]

    async def setup(self) -> None:
        """Create or migrate the checkpoint tables, one process at a time.

        The base class's migrations are ``CREATE TABLE IF NOT EXISTS``, which PostgreSQL does
        not make safe against a concurrent twin: two replicas starting at once both create
        the ``checkpoint_migrations`` row type and one fails with a unique violation on
        ``pg_type`` (seen when ``grace bench api`` starts several server processes). A
        session advisory lock (:data:`SETUP_LOCK_KEY`), held on a connection of its own (not
        the pool's, so a one-connection pool cannot deadlock) around the base ``setup``,
        serialises them; the second process then finds the tables there.

        Raises:
            TypeError: the pool was opened with a callable connection string.
        """
        import psycopg

        conninfo = getattr(self.conn, "conninfo", None)  # the base class keeps the pool here
        if not isinstance(conninfo, str):  # open_checkpoint_pool always passes the URL
            raise TypeError("PooledPostgresSaver needs a pool opened with a connection string")
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            # Polled, not a blocking pg_advisory_lock: the migrations include CREATE INDEX
            # CONCURRENTLY, which waits for every open snapshot, a blocked lock call included,
            # so waiting inside PostgreSQL would deadlock the two replicas undetected.
            while True:
                cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK_KEY,))
                row = await cur.fetchone()
                if row is not None and row[0]:
                    break
                await asyncio.sleep(0.05)
            try:
                await super().setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))


#: Advisory-lock key serialising checkpointer setup across processes (a constant no other
#: advisory lock of the application uses; see ``graphs/core/migrate.py`` for the migrations').
SETUP_LOCK_KEY = 7_341_902_118


async def open_checkpoint_pool(url: str, *, max_size: int = 10) -> AsyncConnectionPool[Any]:
    """Open the checkpointer's pool: autocommit, ``synchronous_commit = off``.

    Args:
        url: The application database.
        max_size: Most connections (concurrent checkpoint operations).

    Raises:
        psycopg_pool.PoolTimeout: no connection within 15 s.
    """
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True, "options": "-c synchronous_commit=off"},
        open=False,
        name="grace-checkpoints",
    )
    await pool.open(wait=True, timeout=15)
    return pool
