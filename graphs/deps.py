"""Everything the supervisor graph's nodes need, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphs.core.settings import Settings
from graphs.workflows.engine import WorkflowEngine


@dataclass
class GraphDeps:
    """Collaborators of the graph nodes.

    Attributes:
        settings: Process settings.
        engine: The workflow engine (the only way state changes).
        registry: ``agents.registry.PersonaRegistry``.
        router: The turn's triage: :class:`graphs.triage.decide.Triage` (learned, local, no
            LLM), or any ``route``-only router, which the supervisor wraps in
            :class:`graphs.triage.adapter.RouterTriage` (test stubs, the API bench).
        retriever: ``knowledge.retriever.Retriever`` or None when the knowledge base is off.
        model: A LangChain chat model, or None for the offline mode.
        step_budget: Maximum agent steps in one turn before the turn is ended with a message.
    """

    settings: Settings
    engine: WorkflowEngine
    registry: Any
    router: Any
    retriever: Any = None
    model: Any = None
    step_budget: int = 8
