"""Entry point for LangGraph tooling (``langgraph.json``: LangGraph Studio / ``langgraph dev``).

The LangGraph server brings its own checkpointer, so the graph is compiled without one here.
"""

from __future__ import annotations

from typing import Any

from graphs.core.database import Database
from graphs.core.settings import get_settings
from graphs.deps import GraphDeps
from graphs.supervisor import build_graph
from graphs.workflows.engine import WorkflowEngine


async def make_graph(config: Any = None) -> Any:
    """Build the supervisor graph with the configured database, models and knowledge base."""
    from agents.encoder import router_embedder
    from agents.llm.providers import make_chat_model
    from agents.registry import PersonaRegistry
    from graphs.triage.decide import load_triage
    from knowledge.embedding.factory import get_default_embedder
    from knowledge.retriever import Retriever
    from knowledge.store.pgvector import PgVectorStore

    settings = get_settings()
    db = await Database.connect(settings)
    embedder = get_default_embedder(settings)
    registry = PersonaRegistry.load()
    deps = GraphDeps(
        settings=settings,
        engine=WorkflowEngine(db),
        registry=registry,
        router=load_triage(
            router_embedder(settings.models_dir, embedder), cache_dir=settings.models_dir
        ),
        retriever=Retriever(PgVectorStore(db), embedder),
        model=make_chat_model(settings),
    )
    return build_graph(deps)
