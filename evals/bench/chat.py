"""Chat-path measurements: the local triage's per-decision latency (``grace bench chat``).

Scenarios of :func:`run_router_bench`:
    triage_onnx: :class:`graphs.triage.decide.Triage` (the learned triage the supervisor uses)
        on :class:`agents.encoder.OnnxEncoder` (all-MiniLM-L6-v2 in onnxruntime), the
        configuration the chat path uses. Target from the issues: p50 <= 10 ms on 2 cores.
    triage_torch: the same triage on the sentence-transformers embedder (eager PyTorch), as
        the baseline; only with ``baseline=True``.

Each decision is a full triage call (clause split, one encoder batch for the message and its
clauses, every calibrated classifier, rules, level) on messages of
``evals/datasets/routing.jsonl``, cycled to ``n``. Nothing is cached, so repeats cost the same
as first sightings. Persona accuracy on the same messages is recorded in the scenario's params
for context (the triage is fitted on the triage corpus's train split, not on these messages).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from evals.bench.report import BenchReport, LatencySummary, Scenario, machine_facts

if TYPE_CHECKING:
    from graphs.core.settings import Settings
    from knowledge.embedding.base import Embedder

#: Target from the issue: median routing decision under 10 ms on 2 cores.
P50_TARGET_MS = 10.0
_WARMUP = 20


def routing_rows() -> list[dict[str, Any]]:
    """The rows of ``evals/datasets/routing.jsonl`` (package data)."""
    text = resources.files("evals").joinpath("datasets/routing.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def router_latency(
    router: Any,
    messages: Sequence[str],
    *,
    name: str = "router",
    target_ms: float | None = P50_TARGET_MS,
    warmup: int = _WARMUP,
) -> Scenario:
    """Time one ``route`` call (a full triage) per message, after ``warmup`` untimed calls.

    Args:
        router: A constructed router (its training cost is not measured).
        messages: The messages to route, in order; at least two.
        name: Scenario name.
        target_ms: p50 target; None records no target.
        warmup: Untimed calls first (the first encoder runs are slower).

    Returns:
        The scenario: decisions per second over the timed loop, latency percentiles, and
        ``params`` with the message count and the share of multi-intent decisions.

    Raises:
        ValueError: fewer than two messages.
    """
    if len(messages) < 2:
        raise ValueError("router_latency needs at least two messages")
    for message in list(messages)[:warmup]:
        router.route(message)
    samples: list[float] = []
    multi = 0
    start = time.perf_counter()
    for message in messages:
        t0 = time.perf_counter()
        decision = router.route(message)
        samples.append(time.perf_counter() - t0)
        multi += decision.multi_intent
    elapsed = time.perf_counter() - start
    latency = LatencySummary.from_seconds(samples)
    return Scenario(
        name=name,
        throughput_per_s=round(len(samples) / elapsed, 1),
        latency=latency,
        params={
            "messages": len(samples),
            "multi_intent_share": round(multi / len(samples), 3),
            # other processes on a 2-core machine move these figures a lot; record the load
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        target=None if target_ms is None else f"p50 < {target_ms:g} ms",
        met=None if target_ms is None else latency.p50_ms < target_ms,
    )


def routing_accuracy(router: Any, rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Lenient (expected or acceptable) and strict top-1 accuracy on dataset rows."""
    lenient = strict = 0
    for row in rows:
        persona = router.route(row["message"]).persona
        strict += persona == row["expected"]
        lenient += persona == row["expected"] or persona in row.get("acceptable", ())
    return {"lenient": round(lenient / len(rows), 4), "strict": round(strict / len(rows), 4)}


def _measure(embedder: Embedder, name: str, n: int, rows: list[dict[str, Any]]) -> Scenario:
    from graphs.triage.decide import load_triage

    t0 = time.perf_counter()
    router = load_triage(embedder)
    build_s = time.perf_counter() - t0
    messages = [rows[i % len(rows)]["message"] for i in range(n)]
    scenario = router_latency(router, messages, name=name)
    scenario.params.update(
        embedder=type(embedder).__name__,
        router_build_s=round(build_s, 2),
        accuracy=routing_accuracy(router, rows),
    )
    return scenario


def router_scenarios(settings: Settings, *, n: int = 500, baseline: bool = False) -> list[Scenario]:
    """Build the routers and measure them (blocking; see :func:`run_router_bench`)."""
    from agents.encoder import OnnxEncoder

    if n < 2:
        raise ValueError("n must be at least 2")
    rows = routing_rows()
    encoder = OnnxEncoder(settings.data_dir / "models")
    encoder.warmup()  # exports the ONNX file on first use (~3-10 s), outside the timings
    scenarios = [_measure(encoder, "triage_onnx", n, rows)]
    if baseline:
        from knowledge.embedding.local import SentenceTransformerEmbedder

        torch_embedder = SentenceTransformerEmbedder(
            settings.embedding_model, device=settings.embedding_device
        )
        torch_embedder.warmup()
        scenarios.append(_measure(torch_embedder, "triage_torch", n, rows))
    return scenarios


async def run_router_bench(
    settings: Settings, *, n: int = 500, baseline: bool = False
) -> list[Scenario]:
    """Measure the local router's decision latency, off the event loop.

    Args:
        settings: Uses ``data_dir`` (ONNX export cache under ``<data_dir>/models``), and
            ``embedding_model``/``embedding_device`` for the baseline.
        n: Timed decisions per scenario (messages of the routing dataset, cycled).
        baseline: Also measure the same router on eager PyTorch (sentence-transformers).

    Returns:
        ``triage_onnx`` (target p50 <= 10 ms), then ``triage_torch`` when ``baseline``.

    Raises:
        ValueError: ``n`` is below 2.
        EmbedderUnavailableError: onnxruntime/onnx or the bundled model are missing.
    """
    return await asyncio.to_thread(router_scenarios, settings, n=n, baseline=baseline)


def router_report(scenarios: list[Scenario]) -> BenchReport:
    """Wrap scenarios in a :class:`BenchReport` named ``chat`` with the machine facts."""
    return BenchReport(benchmark="chat", scenarios=scenarios, environment=machine_facts())
