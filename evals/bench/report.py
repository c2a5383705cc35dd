"""Benchmark reports: latency summaries, JSON files and Markdown/rich tables."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LatencySummary:
    """Latency percentiles of one scenario, in milliseconds.

    Percentiles use the inclusive method of :func:`statistics.quantiles` (n=100).
    """

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @classmethod
    def from_seconds(cls, samples: list[float]) -> LatencySummary:
        """Summarise latencies given in seconds.

        Raises:
            ValueError: fewer than two samples.
        """
        if len(samples) < 2:
            raise ValueError("need at least two samples")
        q = statistics.quantiles(samples, n=100, method="inclusive")
        return cls(
            count=len(samples),
            p50_ms=round(q[49] * 1000, 3),
            p95_ms=round(q[94] * 1000, 3),
            p99_ms=round(q[98] * 1000, 3),
            mean_ms=round(statistics.fmean(samples) * 1000, 3),
            max_ms=round(max(samples) * 1000, 3),
        )


@dataclass
class Scenario:
    """One measured scenario of a benchmark.

    Attributes:
        name: Short id, e.g. ``single_client``.
        throughput_per_s: Operations per second over the measured window.
        latency: Per-operation latency summary.
        params: What was run (counts, concurrency...).
        target: Human-readable target, if the issue names one.
        met: Whether the target was met (None when there is no target).
    """

    name: str
    throughput_per_s: float
    latency: LatencySummary
    params: dict[str, Any] = field(default_factory=dict)
    target: str | None = None
    met: bool | None = None


@dataclass
class BenchReport:
    """A whole benchmark run: environment facts plus its scenarios."""

    benchmark: str
    scenarios: list[Scenario]
    environment: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return asdict(self)

    def markdown(self) -> str:
        """A Markdown table of the scenarios."""
        lines = [
            f"# grace bench {self.benchmark} — {self.started_at}",
            "",
            "| scenario | ops/s | p50 ms | p95 ms | p99 ms | target | met |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
        for s in self.scenarios:
            met = "" if s.met is None else ("yes" if s.met else "NO")
            lines.append(
                f"| {s.name} | {s.throughput_per_s:,.0f} | {s.latency.p50_ms} | "
                f"{s.latency.p95_ms} | {s.latency.p99_ms} | {s.target or ''} | {met} |"
            )
        lines += ["", "Environment: " + ", ".join(f"{k}={v}" for k, v in self.environment.items())]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``<benchmark>-<time>.json`` and ``.md`` into ``out_dir``; return both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{self.benchmark}-{self.started_at.replace(':', '').replace('-', '')}"
        json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
        json_path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        md_path.write_text(self.markdown(), encoding="utf-8")
        return json_path, md_path


def machine_facts() -> dict[str, Any]:
    """CPU count, Python version and platform: enough to compare runs honestly."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
