"""The FastAPI application: ``create_app()`` wires routes, security, errors and metrics.

Usage::

    app = create_app()                       # opens GraceRuntime.open(settings) at startup
    app = create_app(settings, runtime=rt)   # tests and benchmarks: a pre-opened runtime

``grace serve`` runs it with uvicorn. ``app.state`` holds ``settings``, ``runtime``, ``db``
(the runtime's pool), ``dev``, ``metrics`` (:class:`~api.metrics.ApiMetrics`),
``background`` (:class:`~api.background.BackgroundTasks`), ``rate_limiter`` and
``schedule_ingest`` (how webhooks start ingestion jobs) and ``sweeper``
(:class:`~graphs.turn_recovery.TurnSweeper`).

Crash recovery: at start-up, and then every few seconds, the app finishes chat turns a dead
process left unsettled (its own previous life at once, another replica's once its lease
lapsed), and it drops idempotency keys past their expiry once an hour.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from uuid import UUID

import structlog
from fastapi import FastAPI

from api.auth.setup import install_security
from api.background import BackgroundTasks
from api.errors import install_error_handlers
from api.metrics import ApiMetrics, MetricsMiddleware
from api.openapi import problem_openapi
from api.request_context import RequestIdMiddleware
from api.routes import (
    chat,
    completions,
    escalations,
    events,
    health,
    knowledge,
    personas,
    playbooks,
    threads,
    webhooks,
    workflows,
)
from graphs.core.settings import Settings, get_settings
from graphs.runtime import GraceRuntime
from graphs.turn_lease import raise_if_cancelling
from graphs.turn_recovery import TurnSweeper

log = structlog.get_logger("grace.api")

DESCRIPTION = """\
Chat with Grace Fields — a supervisor and eight personas for a gallery, a wellness
center and a consultancy — and run the business behind them.

* **Chat**: `POST /v1/chat` (JSON or Server-Sent Events), or the OpenAI-compatible
  `POST /v1/chat/completions` (`model` = `grace` or a persona name).
* **People in the loop**: level-4 escalations wait for staff (`/v1/escalations`).
* **Workflows**: the 14 operational workflows, their instances, events and audit history.
* **Knowledge**: ingestion jobs and search with citations (Atlas).

Authenticate with an API key: `Authorization: Bearer <key>` (or `X-API-Key`). Roles:
`client` (chat, own threads), `staff` (+ escalations, human-owned workflow steps, reads),
`admin` (+ ingestion, keys). Every error is RFC 9457 `application/problem+json` with a stable
`type`.
"""


def _version() -> str:
    try:
        return version("grace-fields")
    except PackageNotFoundError:  # a source tree without install
        return "0.0.0"


def create_app(
    settings: Settings | None = None,
    *,
    runtime: GraceRuntime | None = None,
    dev: bool = False,
    recover: bool = True,
) -> FastAPI:
    """Build the API.

    Args:
        settings: Process settings (default: :func:`get_settings`).
        runtime: An open runtime to serve (the caller closes it). None: the app opens
            ``GraceRuntime.open(settings)`` at startup, warms the embedder in the background
            (``/readyz`` is 503 until it is loaded), loads the starter corpus into an empty
            knowledge base in the background (``GRACE_LOAD_STARTER_CORPUS``) and closes the
            runtime at shutdown.
        dev: Dev mode: requests without an API key act as an admin named ``dev``.
        recover: Finish turns cut off by a crash at start-up and sweep for them every few
            seconds (``graphs/turn_recovery.py``); expire idempotency keys.

    Returns:
        The FastAPI app (serve with uvicorn; test with ``httpx.ASGITransport`` inside
        ``asgi_lifespan.LifespanManager``).
    """
    settings = settings or get_settings()
    metrics = ApiMetrics()
    background = BackgroundTasks()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or await GraceRuntime.open(settings, offers=True)
        app.state.runtime, app.state.db = rt, rt.db
        _share_playbook_runner(app, rt, metrics, background)
        app.state.schedule_ingest = _ingest_scheduler(app, settings, rt, background)
        if runtime is None:
            background.spawn(_warm_up(rt), name="warm-up")
            if settings.load_starter_corpus:
                background.spawn(_starter_corpus(rt), name="starter-corpus")
        if recover:
            app.state.sweeper = TurnSweeper(rt)
            background.spawn(app.state.sweeper.run(), name="turn-recovery")
            background.spawn(_purge_keys(rt), name="idempotency-expiry")
        try:
            yield
        finally:
            await background.cancel_all()
            await _close_playbooks(app)
            limiter = getattr(app.state, "rate_limiter", None)
            if limiter is not None:
                await limiter.close()
            if runtime is None:
                from graphs.core.redis import close_redis

                await rt.close()
                await close_redis()

    app = FastAPI(
        title="Grace Fields API",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "chat", "description": "Talk to Grace or a named persona."},
            {"name": "openai", "description": "OpenAI-compatible chat completions and models."},
            {"name": "personas", "description": "Grace and the eight personas."},
            {"name": "threads", "description": "Conversations."},
            {"name": "escalations", "description": "Level-4 decisions by people."},
            {"name": "workflows", "description": "Workflow definitions, instances, events."},
            {"name": "playbooks", "description": "Multi-step automations across personas."},
            {"name": "knowledge", "description": "Ingestion jobs and search with citations."},
            {"name": "webhooks", "description": "Signed inbound events from other systems."},
            {"name": "events", "description": "Live transitions, escalations and job progress."},
            {"name": "health", "description": "Liveness, readiness and metrics."},
        ],
    )
    app.state.settings, app.state.dev = settings, dev
    app.state.metrics, app.state.background = metrics, background
    install_error_handlers(app)
    for module in (chat, completions, personas, threads, escalations, workflows, playbooks,
                   knowledge, events, webhooks, health):  # fmt: skip
        app.include_router(module.router)
    install_security(app, settings, dev=dev)
    # Outermost last: request ids wrap everything, metrics see every answer (413s included).
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    app.openapi = problem_openapi(app)  # type: ignore[method-assign]
    return app


#: Seconds pending outbound playbook webhooks get at shutdown before they are abandoned.
WEBHOOK_CLOSE_S = 5.0


def _share_playbook_runner(
    app: FastAPI, rt: GraceRuntime, metrics: ApiMetrics, background: BackgroundTasks
) -> None:
    """Runs Grace starts from chat go through the API's playbook runner (metrics, webhooks, SSE).

    Only when the runtime offers playbooks (``GraceRuntime.open(offers=True)``, which the app
    does when it opens its own runtime); the service is then made now instead of on first use.
    """
    offers = rt.deps.playbooks
    if offers is None:
        return
    from api.playbook_service import PlaybookService

    svc = PlaybookService(rt, metrics.registry, background)
    app.state.playbooks = svc
    offers.runner = svc.runner


async def _close_playbooks(app: FastAPI) -> None:
    """Stop playbook work at shutdown, then close the webhook sender within WEBHOOK_CLOSE_S.

    Runs after the background tasks (API-started playbook runs included) are cancelled; runs
    started from chat get their own bounded moment (``PlaybookOffers.close``) first. Then no
    new event arrives, and deliveries still queued or retrying get up to
    :data:`WEBHOOK_CLOSE_S` seconds before they are cancelled and the HTTP client closes.
    """
    offers = app.state.runtime.deps.playbooks
    if offers is not None:  # runs started from chat stop emitting before the sender closes
        await offers.close()
    svc = getattr(app.state, "playbooks", None)
    if svc is None:
        return
    abandoned = await svc.webhooks.close(WEBHOOK_CLOSE_S)
    if abandoned:
        log.warning("api.playbook_webhooks_abandoned", count=abandoned)


async def _warm_up(rt: GraceRuntime) -> None:
    """Load the embedding model now, so the first request does not pay for it."""
    retriever = rt.deps.retriever
    warm = getattr(retriever.embedder, "warmup", None) if retriever is not None else None
    if warm is not None:
        await asyncio.to_thread(warm)
        log.info("api.warmed_up")


async def _starter_corpus(rt: GraceRuntime) -> None:
    """Load the shipped handbook into an empty knowledge base (``knowledge.starter``)."""
    retriever = rt.deps.retriever
    if retriever is None:
        return
    from knowledge.starter import load_starter_corpus

    try:
        await load_starter_corpus(rt.db, retriever.embedder, settings=rt.deps.settings, bus=rt.bus)
    except Exception as exc:  # serving goes on without it; the log says why
        log.warning("starter_corpus_failed", error=f"{type(exc).__name__}: {exc}")


#: Seconds between deletions of expired idempotency keys.
KEY_PURGE_S = 3600.0


async def _purge_keys(rt: GraceRuntime) -> None:
    """Delete expired idempotency keys now and every :data:`KEY_PURGE_S` seconds."""
    from api.idempotency import IdempotencyStore

    store = IdempotencyStore(rt.db)
    while True:
        try:
            await store.purge()
        except Exception:
            raise_if_cancelling()
            log.warning("api.idempotency_purge_failed", exc_info=True)
        raise_if_cancelling()  # Python 3.11's wait_for can swallow a cancellation
        await asyncio.sleep(KEY_PURGE_S)


def _ingest_scheduler(
    app: FastAPI, settings: Settings, rt: GraceRuntime, background: BackgroundTasks
) -> Any:
    """``schedule_ingest(job_id)``: queue the job (Redis) or run it in the background."""
    from knowledge.queue import enqueue_ingest

    async def schedule(job_id: UUID) -> None:
        embedder = rt.deps.retriever.embedder if rt.deps.retriever is not None else None
        background.spawn(
            enqueue_ingest(settings, job_id, db=rt.db, embedder=embedder),
            name=f"ingest-{job_id}",
        )

    return schedule
