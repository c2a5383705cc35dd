"""Everything the supervisor graph's nodes need, built once per process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from graphs.core.settings import Settings
from graphs.workflows.engine import WorkflowEngine

if TYPE_CHECKING:
    from agents.llm.providers import ChatModel
    from agents.registry import Persona
    from graphs.triage.schema import TriageDecision
    from knowledge.embedding.base import Embedder
    from knowledge.retriever import Passage
    from knowledge.store.base import SearchFilters


class PersonaDirectory(Protocol):
    """The personas the graph routes between (:class:`agents.registry.PersonaRegistry`)."""

    @property
    def personas(self) -> tuple[Persona, ...]:
        """Every persona, Grace included, in registry order."""
        ...

    def get(self, name: str) -> Persona:
        """The persona called ``name``.

        Raises:
            agents.registry.UnknownPersonaError: no persona has that name.
        """
        ...


class Triager(Protocol):
    """A full triage of one turn (:class:`graphs.triage.decide.Triage`)."""

    def triage(self, message: str, state: Mapping[str, Any] | None = None) -> TriageDecision:
        """Persona, level, risk and act for ``message`` in the thread ``state``."""
        ...

    def route(self, message: str, *, current: str | None = None) -> TriageDecision:
        """Persona routing only (:meth:`triage` with ``current`` as the thread's persona)."""
        ...


class PersonaRouter(Protocol):
    """A ``route``-only router (test stubs, the API bench's fixed router).

    The supervisor wraps it in :class:`graphs.triage.adapter.RouterTriage`.
    """

    def route(self, message: str, *, current: str | None = None) -> Any:
        """The routing decision.

        Returns:
            An object with ``persona`` and ``confidence`` (optionally ``secondary``,
            ``multi_intent``, ``sticky``, ``reason``, ``scores``, ``act``).
        """
        ...


#: What ``GraphDeps.router`` may be.
TurnRouter: TypeAlias = "Triager | PersonaRouter"


class PassageRetriever(Protocol):
    """Knowledge retrieval.

    Implemented by :class:`knowledge.retriever.Retriever` and its Redis-cached
    :class:`knowledge.retrieval_cache.CachingRetriever`.

    Attributes:
        embedder: The model queries are embedded with (warmed up at start, shown in health).
    """

    embedder: Embedder

    async def retrieve(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: SearchFilters | None = None,
        threshold: float | None = None,
        hybrid: bool | None = None,
        mmr: bool | None = None,
    ) -> list[Passage]:
        """Up to ``k`` passages for ``query``, best first (none when it is not answered)."""
        ...


class MadeOffer(Protocol):
    """An offer appended to a staff reply (:class:`graphs.playbooks.offers.Offer`)."""

    @property
    def text(self) -> str:
        """The sentence appended to the reply."""
        ...

    @property
    def pending(self) -> dict[str, Any] | None:
        """The thread's pending item, or None when the offer cannot be accepted by a yes."""
        ...


class PlaybookOffering(Protocol):
    """What the turn needs of the playbook-offer collaborator.

    Implemented by :class:`graphs.playbooks.offers.PlaybookOffers`; a Protocol here so the
    graph's dependencies stay below the playbooks package in the import layers.

    Attributes:
        runner: The playbook runner a yes starts runs with (the API swaps in its own, so runs
            started from chat get its metrics, webhooks and SSE); None: runs cannot start.
    """

    runner: Any

    def wanted(self, audience: str, values: Mapping[str, Any]) -> bool:
        """Whether the finished turn of ``values`` for ``audience`` may get an offer."""
        ...

    async def safe_offer(self, message: str, values: Mapping[str, Any]) -> MadeOffer | None:
        """The offer for ``message`` if a playbook fits; None otherwise or on failure."""
        ...

    async def start(self, offer: Mapping[str, Any], *, thread_id: str, turn: int) -> str:
        """Start an accepted offer; Grace's reply naming the run."""
        ...

    async def close(self, timeout_s: float = 10.0) -> int:
        """Stop runs started from chat within ``timeout_s`` seconds; how many were cut."""
        ...


@dataclass
class GraphDeps:
    """Collaborators of the graph nodes.

    Attributes:
        settings: Process settings.
        engine: The workflow engine (the only way state changes).
        registry: The personas (``agents.registry.PersonaRegistry``).
        router: The turn's triage: :class:`graphs.triage.decide.Triage` (learned, local, no
            LLM), or any ``route``-only router, which the supervisor wraps in
            :class:`graphs.triage.adapter.RouterTriage` (test stubs, the API bench).
        retriever: Knowledge retrieval, or None when the knowledge base is off.
        model: A LangChain chat model (``agents.llm.providers.ChatModel``: a
            ``BaseChatModel``, or one ``.with_fallbacks``), or None for the offline mode.
        step_budget: Maximum agent steps in one turn before the turn is ended with a message.
        playbooks: :class:`graphs.playbooks.offers.PlaybookOffers`: offers a fitting playbook
            to staff at the end of a turn and starts it on a yes; None: no offers.
    """

    settings: Settings
    engine: WorkflowEngine
    registry: PersonaDirectory
    router: TurnRouter
    retriever: PassageRetriever | None = None
    model: ChatModel | None = None
    step_budget: int = 8
    playbooks: PlaybookOffering | None = None
