"""Everything the supervisor graph's nodes need, built once per process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphs.core.settings import Settings
from graphs.workflows.engine import WorkflowEngine

if TYPE_CHECKING:
    from graphs.playbooks.offers import PlaybookOffers


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
        playbooks: :class:`graphs.playbooks.offers.PlaybookOffers`: offers a fitting playbook
            to staff at the end of a turn and starts it on a yes; None: no offers.
    """

    settings: Settings
    engine: WorkflowEngine
    registry: Any
    router: Any
    retriever: Any = None
    model: Any = None
    step_budget: int = 8
    playbooks: PlaybookOffers | None = None

    @property
    def offline(self) -> bool:
        """True when no language model is configured."""
        return self.model is None
