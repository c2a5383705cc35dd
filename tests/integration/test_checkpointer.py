"""The pooled checkpointer: concurrent turns do not queue behind one lock, and stay intact."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import HumanMessage

from agents.testing import HashingEmbedder, ScriptedChatModel, StubRouter
from graphs.checkpointer import PooledPostgresSaver, open_checkpoint_pool
from graphs.core.database import Database
from graphs.runtime import GraceRuntime
from graphs.turn_gate import graph_config

pytestmark = pytest.mark.integration


async def test_a_checkpoint_read_proceeds_while_another_operation_holds_a_connection(
    database_url: str,
) -> None:
    pool = await open_checkpoint_pool(database_url, max_size=3)
    saver = PooledPostgresSaver(pool)
    await saver.setup()
    config = {"configurable": {"thread_id": "t-none", "checkpoint_ns": ""}}
    try:
        async with saver._cursor():  # one operation in flight
            # The base class would wait here forever: its lock is held by the block above.
            found = await asyncio.wait_for(saver.aget_tuple(config), timeout=5)  # type: ignore[arg-type]
        assert found is None
    finally:
        await pool.close()


async def test_replicas_starting_at_once_set_the_checkpoint_tables_up_once(
    database_url: str,
) -> None:
    """Four savers (as four replicas) run setup at once on a database without the tables.

    Unserialised, the base class's ``CREATE TABLE IF NOT EXISTS`` raced: one replica died with
    a unique violation on ``pg_type`` (``checkpoint_migrations``).
    """
    import psycopg

    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for table in (
            "checkpoint_writes",
            "checkpoint_blobs",
            "checkpoints",
            "checkpoint_migrations",
        ):
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
    pools = [await open_checkpoint_pool(database_url, max_size=1) for _ in range(4)]
    try:
        setups = asyncio.gather(*(PooledPostgresSaver(p).setup() for p in pools))
        await asyncio.wait_for(setups, timeout=60)
        async with await psycopg.AsyncConnection.connect(database_url) as conn:
            row = await (
                await conn.execute("SELECT count(*) FROM checkpoint_migrations")
            ).fetchone()
        assert row is not None and row[0] == len(PooledPostgresSaver.MIGRATIONS)
    finally:
        for p in pools:
            await p.close()


async def test_concurrent_turns_on_many_threads_keep_every_message(db: Database) -> None:
    rt = await GraceRuntime.open(
        db=db,
        model=ScriptedChatModel(default="Noted."),
        embedder=HashingEmbedder(256),
        router=StubRouter(default="solari"),
    )
    try:
        threads = [f"t-conc-{i}" for i in range(8)]
        for round_ in range(3):
            turns = await asyncio.gather(
                *(rt.ask(f"{t} message {round_}", thread_id=t) for t in threads)
            )
            assert all(turn.turn == round_ + 1 and turn.reply == "Noted." for turn in turns)
        for t in threads:
            snap = await rt.graph.aget_state(graph_config(t))
            humans = [m.content for m in snap.values["messages"] if isinstance(m, HumanMessage)]
            assert humans == [f"{t} message {r}" for r in range(3)]
    finally:
        await rt.close()
