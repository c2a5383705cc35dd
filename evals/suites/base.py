"""What every suite shares: the run context, the result model, and the pydantic_evals glue.

A suite is a module ``evals.suites.<name>`` with ``NAME`` and ``async def run(ctx) ->
SuiteResult``. It turns its dataset into a :class:`pydantic_evals.Dataset` of ``Case`` objects
with evaluators (the per-case judgement), lets pydantic_evals run the task ``ctx.k`` times per
case (``repeat``), and then computes the suite figures (which need all cases at once: macro-F1,
confusion matrices, rates) from the evaluated cases.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, Field
from pydantic_evals import Case, Dataset
from pydantic_evals.evaluators import Evaluator
from pydantic_evals.reporting import EvaluationReport, ReportCase

from evals.metrics.passk import pass_curve

if TYPE_CHECKING:
    from graphs.core.database import Database
    from graphs.core.settings import Settings
    from graphs.runtime import GraceRuntime

InT = TypeVar("InT")
OutT = TypeVar("OutT")

#: ``progress(suite, done, total)`` after each task run.
ProgressFn = Callable[[str, int, int], None]


@dataclass
class EvalContext:
    """Resources shared by the suites of one run (opened by :mod:`evals.runner`).

    Attributes:
        settings: Process settings, with ``llm_provider`` set from ``--provider``.
        db: Open database (a scratch database on the embedded server, or ``DATABASE_URL``).
        embedder: The embedding model (loaded once).
        runtime: A :class:`~graphs.runtime.GraceRuntime` on ``db`` with the run's provider
            model (None offline) and the shared router.
        provider: ``offline``, ``openai`` or ``anthropic``.
        model: The chat model (None offline).
        k: Trials per case (pass^k).
        limit: Use only the first ``limit`` cases of each dataset (CI smoke runs).
        concurrency: Cases run at once where a suite allows it.
        progress: Progress callback.
        judge: A chat model for the LLM faithfulness judge (None: offline checks only).
    """

    settings: Settings
    db: Database
    embedder: Any
    runtime: GraceRuntime
    provider: str = "offline"
    model: Any = None
    k: int = 1
    limit: int | None = None
    concurrency: int = 4
    progress: ProgressFn | None = None
    judge: Any = None
    _runtimes: list[GraceRuntime] = field(default_factory=list)

    async def runtime_with(self, model: Any) -> GraceRuntime:
        """Another runtime on the same database, router and embedder, with ``model``.

        Closed by the runner at the end of the run.
        """
        from graphs.runtime import GraceRuntime

        rt = await GraceRuntime.open(
            self.settings,
            db=self.db,
            model=model,
            embedder=self.embedder,
            router=self.runtime.deps.router,
        )
        self._runtimes.append(rt)
        return rt

    async def close_extra(self) -> None:
        """Close the runtimes :meth:`runtime_with` opened."""
        for rt in self._runtimes:
            await rt.close()
        self._runtimes.clear()


class CaseFailure(BaseModel):
    """One case that did not pass (in at least one of its ``k`` runs)."""

    id: str
    tags: list[str] = Field(default_factory=list)
    expected: str
    got: str
    detail: str = ""
    runs_failed: int = 1


class SuiteResult(BaseModel):
    """Figures of one suite.

    Attributes:
        suite: Suite name.
        cases: Distinct cases evaluated.
        k: Runs per case.
        metrics: Headline figures (names are the gate's keys in ``evals/thresholds.toml``).
        details: Tables behind them (confusion matrices, per-class scores, per-tag figures).
        pass_curve: pass^1..pass^k of the suite's per-case success (τ-bench).
        failures: Cases that failed, with what was expected and what happened.
        seconds: Wall time of the suite.
    """

    suite: str
    cases: int
    k: int = 1
    metrics: dict[str, float]
    details: dict[str, Any] = Field(default_factory=dict)
    pass_curve: dict[int, float] = Field(default_factory=dict)
    failures: list[CaseFailure] = Field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Evaluated(Generic[InT, OutT]):
    """One run of one case: the input, the task's output, and the evaluator verdicts."""

    case_id: str
    inputs: InT
    output: OutT
    assertions: dict[str, bool]
    run: int


async def evaluate(
    ctx: EvalContext,
    suite: str,
    cases: Sequence[Case[InT, Any, Any]],
    task: Callable[[InT], Awaitable[OutT]],
    evaluators: Sequence[Evaluator[InT, Any, Any]],
    *,
    concurrency: int | None = None,
) -> list[Evaluated[InT, OutT]]:
    """Run ``task`` on every case ``ctx.k`` times through pydantic_evals.

    Args:
        ctx: Run context (``k``, progress).
        suite: Name (progress label, dataset name).
        cases: pydantic_evals cases; ``name`` must be the dataset id.
        task: The system under test for one case's inputs.
        evaluators: Per-case judges; each returns a bool (an assertion).
        concurrency: Cases at once (default ``ctx.concurrency``; 1 = sequential).

    Returns:
        One :class:`Evaluated` per (case, run), in case order.

    Raises:
        RuntimeError: a task raised (pydantic_evals records it; we stop: a crash is a bug, not
            a low score).
    """
    total = len(cases) * ctx.k
    done = 0

    async def tracked(inputs: InT) -> OutT:
        nonlocal done
        try:
            return await task(inputs)
        finally:
            done += 1
            if ctx.progress is not None:
                ctx.progress(suite, done, total)

    dataset: Dataset[InT, Any, Any] = Dataset(
        name=suite, cases=list(cases), evaluators=list(evaluators)
    )
    report: EvaluationReport[InT, Any, Any] = await dataset.evaluate(
        tracked,
        name=suite,
        max_concurrency=concurrency or ctx.concurrency,
        progress=False,
        repeat=ctx.k,
    )
    if report.failures:
        first = report.failures[0]
        raise RuntimeError(
            f"{suite}: {len(report.failures)} case(s) crashed; first {first.name}: "
            f"{first.error_message}"
        )
    order = {c.name: i for i, c in enumerate(cases)}
    out = [_evaluated(rc) for rc in report.cases]
    out.sort(key=lambda e: (order.get(e.case_id, 0), e.run))
    return out


def _evaluated(rc: ReportCase[Any, Any, Any]) -> Evaluated[Any, Any]:
    if rc.evaluator_failures:
        raise RuntimeError(
            f"evaluator failed on {rc.name}: {rc.evaluator_failures[0].error_message}"
        )
    name = rc.source_case_name or rc.name
    run = 1
    if "[" in rc.name and rc.name.endswith("]"):
        run = int(rc.name.rsplit("[", 1)[1].split("/")[0])
    return Evaluated(
        case_id=name,
        inputs=rc.inputs,
        output=rc.output,
        assertions={k: bool(v.value) for k, v in rc.assertions.items()},
        run=run,
    )


def by_case(runs: Sequence[Evaluated[InT, OutT]]) -> dict[str, list[Evaluated[InT, OutT]]]:
    """Group runs by case id (order kept)."""
    grouped: dict[str, list[Evaluated[InT, OutT]]] = defaultdict(list)
    for r in runs:
        grouped[r.case_id].append(r)
    return dict(grouped)


def curve(
    runs: Sequence[Evaluated[Any, Any]], ok: Callable[[Evaluated[Any, Any]], bool]
) -> dict[int, float]:
    """pass^1..pass^k where a run succeeds when ``ok(run)``."""
    return pass_curve({cid: [ok(r) for r in rs] for cid, rs in by_case(runs).items()})


def repeats(runs: Sequence[Evaluated[Any, Any]]) -> int:
    """Runs per case (``k``); 1 when there are none."""
    return max((r.run for r in runs), default=1)


def failed_runs(runs: Sequence[Evaluated[Any, Any]], case_id: str, assertion: str) -> int:
    """How many runs of ``case_id`` failed ``assertion``."""
    return sum(1 for r in runs if r.case_id == case_id and not r.assertions[assertion])


def first_runs(runs: Sequence[Evaluated[InT, OutT]]) -> list[Evaluated[InT, OutT]]:
    """Run 1 of every case (suite figures are over first runs; pass^k covers the repeats)."""
    return [r for r in runs if r.run == 1]


class Timer:
    """Wall-clock seconds since construction."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        """Elapsed seconds, rounded to 0.1 s."""
        return round(time.perf_counter() - self.start, 1)


def rate(n: int, d: int) -> float:
    """``n / d`` rounded to 4 places; 0 when ``d`` is 0."""
    return round(n / d, 4) if d else 0.0
