"""Prometheus metrics of the HTTP API, in a registry of the app's own.

Each app gets its own :class:`prometheus_client.CollectorRegistry`, so several apps in one
process (tests, the benchmark) never mix their counts. Request metrics are labelled by the
matched route template (``/v1/instances/{instance_id}``), never the raw path, so ids do not
explode the label space; requests that match no route are labelled ``<unmatched>``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from graphs.turn_result import TurnResult

#: Latency buckets in seconds: 5 ms to 10 s (chat turns with a real LLM take seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Retrieval buckets in seconds: 1 ms to 2.5 s.
RETRIEVAL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
UNMATCHED = "<unmatched>"


class ApiMetrics:
    """The API's counters and histograms.

    Attributes:
        registry: The app's own registry (what ``GET /metrics`` exposes).
        requests: ``grace_http_requests_total{method, route, status}``.
        latency: ``grace_http_request_duration_seconds{method, route}`` (until the response
            starts; a stream's body time is not included).
        routing: ``grace_routing_decisions_total{persona}``: who answered each turn.
        levels: ``grace_turn_levels_total{level}``: turns per escalation level (1-4).
        escalations: ``grace_escalations_total{level, kind}``: escalations to a person opened.
        transitions: ``grace_transitions_total{outcome, source}``: workflow transitions
            ``applied`` or ``refused``, from a chat ``turn`` or the ``api`` events endpoint.
        retrieval: ``grace_retrieval_duration_seconds``: knowledge search latency.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "grace_http_requests", "HTTP requests handled.", ["method", "route", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "grace_http_request_duration_seconds", "Time to the response start, seconds.",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.routing = Counter(
            "grace_routing_decisions", "Chat turns per answering persona.", ["persona"], registry=r
        )
        self.levels = Counter(
            "grace_turn_levels", "Chat turns per escalation level.", ["level"], registry=r
        )
        self.escalations = Counter(
            "grace_escalations", "Escalations to a person opened.", ["level", "kind"], registry=r
        )
        self.transitions = Counter(
            "grace_transitions", "Workflow transitions applied or refused.",
            ["outcome", "source"], registry=r,
        )  # fmt: skip
        self.retrieval = Histogram(
            "grace_retrieval_duration_seconds", "Knowledge search latency, seconds.",
            buckets=RETRIEVAL_BUCKETS, registry=r,
        )  # fmt: skip

    def observe_turn(self, turn: TurnResult) -> None:
        """Count one chat turn: persona, level, escalation, steps."""
        self.routing.labels(persona=str(turn.persona or "none")).inc()
        self.levels.labels(level=str(turn.level or 1)).inc()
        esc = turn.escalation
        if esc is not None:
            self.escalations.labels(level=str(esc.level or 4), kind=esc.kind).inc()
        self.count_transitions(turn.actions, turn.refusals, "turn")

    def count_transitions(
        self, applied: Iterable[Any], refused: Iterable[Any], source: str
    ) -> None:
        """Add applied and refused transitions from ``source`` (``turn`` or ``api``)."""
        n_applied, n_refused = sum(1 for _ in applied), sum(1 for _ in refused)
        if n_applied:
            self.transitions.labels(outcome="applied", source=source).inc(n_applied)
        if n_refused:
            self.transitions.labels(outcome="refused", source=source).inc(n_refused)

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request (streams are not buffered)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request and count it by method, route template and status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.metrics.latency.labels(scope["method"], _route(scope)).observe(
                    time.perf_counter() - start
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.requests.labels(scope["method"], _route(scope), str(status)).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else UNMATCHED
