"""The API's playbook runner and its sinks (metrics, outbound webhooks, SSE subscribers).

Built on first use from the app's runtime (database, checkpointer) and kept on ``app.state``,
so the app's startup is unchanged and apps that never touch playbooks pay nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from fastapi import Request

from graphs.playbooks.lookup import knowledge_lookup
from graphs.playbooks.metrics import PlaybookMetrics
from graphs.playbooks.runner import PlaybookRunner
from graphs.playbooks.store import RunRecord
from graphs.playbooks.suggest import PlaybookSuggester
from graphs.playbooks.webhooks import WebhookEndpoints, WebhookSender

#: Events a slow SSE client may fall behind by before new ones are dropped for it.
QUEUE_SIZE = 256


class PlaybookService:
    """Runner + registry of live subscribers per run.

    Args:
        runtime: The app's ``GraceRuntime`` (its db and checkpointer are reused).
        registry: Prometheus registry for the playbook metrics.
        background: The app's background task set.
    """

    def __init__(self, runtime: Any, registry: Any, background: Any) -> None:
        self.endpoints = WebhookEndpoints(runtime.db)
        self.webhooks = WebhookSender(self.endpoints)
        self.metrics = PlaybookMetrics(registry)
        self.background = background
        self._subs: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}
        embedder = runtime.deps.retriever.embedder if runtime.deps.retriever else None
        self._embedder = embedder
        self.runner = PlaybookRunner(
            runtime.db, runtime.checkpointer,
            lookup=(
                knowledge_lookup(runtime.db, embedder=embedder, settings=runtime.deps.settings)
                if embedder
                else None
            ),
            sinks=[self.metrics, self.webhooks, self._publish], writer=runtime.deps.model,
        )  # fmt: skip
        self._suggester: PlaybookSuggester | None = None

    async def _publish(self, event: dict[str, Any]) -> None:
        for q in self._subs.get(str(event.get("run_id")), ()):
            if not q.full():
                q.put_nowait(event)

    def subscribe(self, run_id: str) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving the run's live events."""
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._subs.setdefault(run_id, set()).add(q)
        return q

    def unsubscribe(self, run_id: str, q: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop feeding ``q``."""
        subs = self._subs.get(run_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._subs[run_id]

    async def suggester(self) -> PlaybookSuggester:
        """The suggester on the runtime's embedder (built once; embeds every playbook)."""
        if self._suggester is None:
            if self._embedder is None:
                from knowledge.embedding.factory import get_default_embedder

                self._embedder = get_default_embedder()
            self._suggester = await asyncio.to_thread(
                PlaybookSuggester, self._embedder, self.runner.playbooks
            )
        return self._suggester

    async def start_background(
        self, playbook_id: str, params: dict[str, Any], by: str, instances: dict[str, str]
    ) -> RunRecord:
        """Check and record the run now, drive it in the background; returns the new record.

        Raises:
            UnknownPlaybookError, PlaybookInvalidError, PlaybookError: as ``start``.
        """
        run = await self.runner.create(playbook_id, params, requested_by=by, instances=instances)
        self.background.spawn(self.runner.drive_new(run), name=f"playbook-run-{run.id}")
        return run


def service_of(request: Request) -> PlaybookService:
    """The app's :class:`PlaybookService` (created on first use)."""
    state = request.app.state
    svc = getattr(state, "playbooks", None)
    if svc is None:
        svc = PlaybookService(state.runtime, state.metrics.registry, state.background)
        state.playbooks = svc
    return cast(PlaybookService, svc)
