"""One wiring (graphs/wiring.py): the runtime and the langgraph.json factory get the same graph.

Both build their collaborators through :func:`graphs.wiring.open_wiring`; these tests check
what it builds (the production retriever settings, the checkpointer) and that everything it
opened is closed again — the graph factory's database included.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

import graphs.wiring as wiring_module
from agents.testing import HashingEmbedder, StubRouter
from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.runtime import GraceRuntime
from graphs.studio import make_graph
from graphs.wiring import Wiring, wired

pytestmark = pytest.mark.integration


async def test_wired_builds_the_production_collaborators_and_closes_what_it_opened(
    db: Database,
) -> None:
    settings = Settings(exact_search_max_rows=123)
    async with wired(
        settings, db=db, model=None, embedder=HashingEmbedder(64), router=StubRouter()
    ) as w:
        retriever: Any = w.deps.retriever
        assert retriever is not None and retriever.store.exact_search_max_rows == 123
        assert w.checkpointer is not None
        pool = w.checkpointer.conn
        assert not pool.closed
    assert pool.closed  # the checkpointer's pool is closed on exit
    async with db.connection() as conn:  # a database it was given stays open
        await conn.execute("SELECT 1")


async def test_the_runtime_is_opened_through_the_wiring(db: Database) -> None:
    rt = await GraceRuntime.open(db=db, model=None, embedder=HashingEmbedder(64),
                                 router=StubRouter())  # fmt: skip
    try:
        assert isinstance(rt.wiring, Wiring)
        assert rt.deps is rt.wiring.deps and rt.checkpointer is rt.wiring.checkpointer
        turn = await rt.ask("Do you sell gift cards?")
        assert turn.thread_id.startswith("t-") and turn.reply
    finally:
        await rt.close()


async def test_the_graph_factory_wires_like_the_runtime_and_closes_its_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import knowledge.embedding.factory as factory

    monkeypatch.setenv("GRACE_DATABASE_URL", database_url)
    monkeypatch.setattr(factory, "get_default_embedder", lambda settings=None: HashingEmbedder(64))
    monkeypatch.setattr(wiring_module, "local_triage", lambda settings, embedder: StubRouter())
    opened: list[Wiring] = []
    real_open = wiring_module.open_wiring

    async def recording_open(*args: Any, **kwargs: Any) -> Wiring:
        w = await real_open(*args, **kwargs)
        opened.append(w)
        return w

    monkeypatch.setattr(wiring_module, "open_wiring", recording_open)
    factory_cm = make_graph({})
    assert isinstance(factory_cm, AbstractAsyncContextManager)
    async with factory_cm as graph:
        assert "triage" in graph.nodes
        (w,) = opened
        assert w.checkpointer is None  # the LangGraph server brings its own
        retriever: Any = w.deps.retriever
        assert retriever.store.exact_search_max_rows == w.settings.exact_search_max_rows
        assert not w.db.pool.closed
    assert w.db.pool.closed  # the factory's own database is closed on exit
