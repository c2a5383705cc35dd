"""Prometheus metrics per playbook: runs by outcome, steps, and run duration.

Registered in a registry the caller owns (the API passes its own, which ``GET /metrics``
exposes), following the pattern of :mod:`api.metrics`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

#: Run durations span sub-second chains to runs that wait hours for approvals.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400)


class PlaybookMetrics:
    """An event sink that counts runs and observes their duration.

    Args:
        registry: Where the metrics live.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "grace_playbook_runs", "Playbook runs by outcome (started, completed, failed…).",
            ["playbook", "outcome"], registry=registry,
        )  # fmt: skip
        self.steps = Counter(
            "grace_playbook_steps", "Playbook steps completed.", ["playbook"], registry=registry
        )
        self.duration = Histogram(
            "grace_playbook_run_seconds", "Wall time from start to end of completed runs.",
            ["playbook"], buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip

    async def __call__(self, event: dict[str, Any]) -> None:
        """Record ``event``."""
        kind, pb = event.get("type"), str(event.get("playbook", "?"))
        if kind == "playbook.started":
            self.runs.labels(pb, "started").inc()
        elif kind == "playbook.step.completed":
            self.steps.labels(pb).inc()
        elif kind in ("playbook.completed", "playbook.failed"):
            self.runs.labels(pb, str(event.get("status", "failed"))).inc()
            if event.get("status") == "completed":
                self.duration.labels(pb).observe(float(event.get("duration_s", 0.0)))
        elif kind == "playbook.rolled_back":
            self.runs.labels(pb, "rolled_back").inc()
