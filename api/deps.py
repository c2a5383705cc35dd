"""FastAPI dependencies of the API routes: the runtime and what hangs off it.

Route modules use the ``Annotated`` aliases::

    async def handler(rt: RuntimeDep, engine: EngineDep) -> ...

Everything comes from ``app.state`` (set by :func:`api.app.create_app`'s lifespan), so tests
can hand the app a pre-opened runtime.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from agents.registry import PersonaRegistry
from api.auth.deps import ThreadOwners
from api.metrics import ApiMetrics
from api.problems import ProblemError
from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.runtime import GraceRuntime
from graphs.workflows.engine import WorkflowEngine
from knowledge.retriever import Retriever


def _runtime(request: Request) -> GraceRuntime:
    return cast(GraceRuntime, request.app.state.runtime)


# Dependencies are ``async def`` on purpose: FastAPI runs plain ``def`` dependencies in a
# thread pool, a thread hop per dependency per request.


async def get_runtime(request: Request) -> GraceRuntime:
    """The app's :class:`GraceRuntime`."""
    return _runtime(request)


async def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    return cast(Settings, request.app.state.settings)


async def get_db(request: Request) -> Database:
    """The app's database (the runtime's pool)."""
    return cast(Database, request.app.state.db)


async def get_engine(request: Request) -> WorkflowEngine:
    """The workflow engine the runtime's personas use (one catalog, one pool)."""
    return _runtime(request).deps.engine


async def get_registry(request: Request) -> PersonaRegistry:
    """The persona registry."""
    return cast(PersonaRegistry, _runtime(request).deps.registry)


async def get_metrics(request: Request) -> ApiMetrics:
    """The app's Prometheus metrics."""
    return cast(ApiMetrics, request.app.state.metrics)


async def get_retriever(request: Request) -> Retriever:
    """The runtime's knowledge retriever.

    Raises:
        ProblemError: 503 ``knowledge-disabled`` when the runtime was opened without knowledge.
    """
    retriever = _runtime(request).deps.retriever
    if retriever is None:
        raise ProblemError(
            503, "knowledge-disabled", "Knowledge base disabled",
            "This server runs without the knowledge base.",
        )  # fmt: skip
    return cast(Retriever, retriever)


async def get_thread_owners(request: Request) -> ThreadOwners:
    """Thread ownership records on the app's database."""
    return ThreadOwners(cast(Database, request.app.state.db))


RuntimeDep = Annotated[GraceRuntime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DbDep = Annotated[Database, Depends(get_db)]
EngineDep = Annotated[WorkflowEngine, Depends(get_engine)]
RegistryDep = Annotated[PersonaRegistry, Depends(get_registry)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
OwnersDep = Annotated[ThreadOwners, Depends(get_thread_owners)]
