"""One wiring: the runtime's collaborators, built and closed in one place.

Everything that runs the supervisor graph gets its collaborators here — ``GraceRuntime.open``
(the CLI, the API, the evals and the benchmarks), and the ``langgraph.json`` graph factory
(:func:`graphs.studio.make_graph`) — so all of them run the same graph:

* the database (connected per settings unless one is given; closed only if opened here);
* the workflow engine and the persona registry;
* the triage: the learned local :class:`graphs.triage.decide.Triage` on the process's ONNX
  MiniLM encoder (:func:`local_triage`), unless a router is given;
* the retriever: pgvector with ``settings.exact_search_max_rows``, behind the Redis cache
  when ``REDIS_URL`` is set (:func:`knowledge.serving.build_retriever`, which ``grace search``
  and playbook lookups use too);
* the chat model (the configured provider; None offline);
* the Postgres checkpointer on its own pool (:mod:`graphs.checkpointer`), and Grace's
  playbook offers when asked for.

Use :func:`wired` as an async context manager, or :func:`open_wiring` and
:meth:`Wiring.aclose` when the owner closes later (``GraceRuntime.close``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from graphs.checkpointer import PooledPostgresSaver, open_checkpoint_pool
from graphs.core.database import Database
from graphs.core.settings import Settings, get_settings
from graphs.deps import GraphDeps, TurnRouter
from graphs.workflows.engine import WorkflowEngine
from knowledge.serving import build_retriever

if TYPE_CHECKING:
    from agents.llm.providers import ChatModel
    from graphs.playbooks.offers import PlaybookOffers
    from knowledge.embedding.base import Embedder

__all__ = ["Wiring", "local_triage", "open_wiring", "wired"]


@dataclass
class Wiring:
    """The collaborators of one runtime (or one graph factory), open.

    Attributes:
        settings: Process settings.
        db: The application database.
        deps: What the graph's nodes use (engine, registry, router, retriever, model…).
        embedder: The process embedder (retrieval; the router's encoder shares it).
        checkpointer: The Postgres checkpointer, or None when opened without one (the
            LangGraph server brings its own).
    """

    settings: Settings
    db: Database
    deps: GraphDeps
    embedder: Embedder
    checkpointer: PooledPostgresSaver | None
    _stack: AsyncExitStack = field(default_factory=AsyncExitStack, repr=False)

    async def aclose(self) -> None:
        """Close what was opened, last first.

        Stops playbook runs started from chat, closes the checkpointer's pool, then the
        database if :func:`open_wiring` connected it (idempotent).
        """
        await self._stack.aclose()


async def open_wiring(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    model: ChatModel | Literal["auto"] | None = "auto",
    embedder: Embedder | None = None,
    router: TurnRouter | None = None,
    knowledge: bool = True,
    offers: PlaybookOffers | bool = False,
    checkpointer: bool = True,
) -> Wiring:
    """Build and open every collaborator; close them with :meth:`Wiring.aclose`.

    Args:
        settings: Process settings (default: from the environment).
        db: An open database (default: connect per settings; then closed by ``aclose``).
        model: A chat model; ``"auto"`` picks the configured provider (None offline).
        embedder: Embedder for the router and retrieval (default: the process-wide one).
        router: Triage of each turn (default: :func:`local_triage`); a plain
            ``route``-only router is wrapped by :class:`graphs.triage.adapter.RouterTriage`.
        knowledge: Give Atlas (and offline replies) the knowledge base.
        offers: Grace's playbook offers to staff (``GraphDeps.playbooks``): a
            :class:`graphs.playbooks.offers.PlaybookOffers`, True for one on the local
            encoder, False for none. Its runner, when it has none, is a ``PlaybookRunner``
            on this database, checkpointer, engine and model.
        checkpointer: Open the Postgres checkpointer (its versioned tables set up).

    Raises:
        ValueError: ``offers`` asked for without a checkpointer.
        graphs.core.database.DatabaseUnavailableError: the database cannot be reached.
    """
    from agents.registry import PersonaRegistry
    from knowledge.embedding.factory import get_default_embedder

    if offers and not checkpointer:
        raise ValueError("playbook offers need the checkpointer (their runs are threads)")
    settings = settings or get_settings()
    stack = AsyncExitStack()
    try:
        if db is None:
            db = await Database.connect(settings)
            stack.push_async_callback(db.close)
        if model == "auto":
            from agents.llm.providers import make_chat_model

            model = make_chat_model(settings)
        embedder = embedder or get_default_embedder(settings)
        deps = GraphDeps(
            settings=settings,
            engine=WorkflowEngine(db),
            registry=PersonaRegistry.load(),
            router=router or local_triage(settings, embedder),
            retriever=build_retriever(settings, db, embedder) if knowledge else None,
            model=model,
        )
        saver = None
        if checkpointer:
            pool = await open_checkpoint_pool(db.url, max_size=settings.db_pool_max_size)
            stack.push_async_callback(pool.close)
            saver = PooledPostgresSaver(pool)
            await saver.setup()  # the checkpointer's own versioned tables (idempotent)
        if offers:
            from graphs.playbooks.offers import bind_offers

            deps.playbooks = bind_offers(offers, deps, db, saver, embedder, knowledge=knowledge)
            stack.push_async_callback(deps.playbooks.close)  # runs get a bounded moment
    except BaseException:
        await stack.aclose()
        raise
    return Wiring(settings, db, deps, embedder, saver, stack)


@asynccontextmanager
async def wired(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    model: ChatModel | Literal["auto"] | None = "auto",
    embedder: Embedder | None = None,
    router: TurnRouter | None = None,
    knowledge: bool = True,
    offers: PlaybookOffers | bool = False,
    checkpointer: bool = True,
) -> AsyncIterator[Wiring]:
    """:func:`open_wiring` as an async context manager (closed on exit). Arguments as there."""
    wiring = await open_wiring(
        settings, db=db, model=model, embedder=embedder, router=router,
        knowledge=knowledge, offers=offers, checkpointer=checkpointer,
    )  # fmt: skip
    try:
        yield wiring
    finally:
        await wiring.aclose()


def local_triage(settings: Settings, embedder: Embedder) -> TurnRouter:
    """The learned local triage on the process's ONNX MiniLM, fitted once per train split.

    It shares the ONNX encoder under ``embedder`` (one model in memory), or loads one when
    ``embedder`` is another backend; falls back to ``embedder`` when the export cannot be made
    or loaded (same vectors for all-MiniLM-L6-v2, only slower). The fitted classifiers are
    cached in ``settings.models_dir`` (``agents.fit_cache``), so a start with an unchanged
    train split loads them instead of refitting.
    """
    from agents.encoder import router_embedder
    from graphs.triage.decide import load_triage

    encoder = router_embedder(settings.models_dir, embedder)
    return load_triage(encoder, cache_dir=settings.models_dir)
