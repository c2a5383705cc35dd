"""Entry point for LangGraph tooling (``langgraph.json``: LangGraph Studio / ``langgraph dev``).

:func:`make_graph` is an async context manager graph factory (LangGraph's server enters it
for the graph and exits it when done with it), so the database and everything else it opens
is closed again. It wires the graph through :func:`graphs.wiring.wired`, the same builder
``GraceRuntime.open`` uses: the same triage (the learned local one on the ONNX encoder), the
same Redis-cached retriever with ``exact_search_max_rows``, the same model. The LangGraph
server brings its own checkpointer, so the graph is compiled without one here (and without
Grace's playbook offers, which the runtime adds around a turn, not the graph).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from graphs.supervisor import build_graph
from graphs.wiring import wired


@asynccontextmanager
async def make_graph(config: Any = None) -> AsyncIterator[CompiledStateGraph[Any, Any, Any, Any]]:
    """The supervisor graph with the configured database, models and knowledge base.

    Args:
        config: The server's run config (unused: the graph is the same for every run).

    Yields:
        The compiled graph (no checkpointer); its collaborators close on exit.
    """
    del config
    async with wired(checkpointer=False) as wiring:
        yield build_graph(wiring.deps)
