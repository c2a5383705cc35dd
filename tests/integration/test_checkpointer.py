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
