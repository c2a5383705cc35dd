"""The CI gate: minimum (or maximum) figures from ``evals/thresholds.toml``, and run comparison.

``thresholds.toml`` has one table per suite; each key is a metric name and its value either a
number (a minimum: the figure must be ``>=`` it) or a table ``{max = N}`` / ``{min = N}``::

    [routing]
    accuracy = 0.90

    [compliance]
    unauthorized_applied = { max = 0 }

Only suites present in the report are checked (``grace eval run routing`` gates routing only);
a metric missing from a suite that ran fails the gate.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.report import EvalReport, GateCheck

THRESHOLDS = Path(__file__).parent / "thresholds.toml"

#: Metrics where a *lower* value is better (for ``compare``); every other metric: higher.
LOWER_IS_BETTER_PREFIXES = (
    "under_escalation",
    "over_escalation",
    "level4_handled_lower",
    "false_abstention",
    "unauthorized_applied",
    "allowed_refused",
    "transition_success",
    "cross_client_success",
    "leak",
)


class ThresholdsError(ValueError):
    """``thresholds.toml`` is malformed."""


@dataclass(frozen=True)
class Threshold:
    """One rule: ``suite.metric op value`` with ``op`` in ``>=``, ``<=``."""

    suite: str
    metric: str
    op: str
    value: float


def load_thresholds(path: Path = THRESHOLDS) -> list[Threshold]:
    """Parse the thresholds file.

    Raises:
        ThresholdsError: unreadable TOML or a value that is not a number / ``{min|max = n}``.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThresholdsError(f"{path}: {exc}") from exc
    rules: list[Threshold] = []
    for suite, table in data.items():
        if not isinstance(table, dict):
            raise ThresholdsError(f"{path}: [{suite}] must be a table")
        for metric, spec in table.items():
            rules.append(_rule(path, suite, metric, spec))
    return rules


def _rule(path: Path, suite: str, metric: str, spec: Any) -> Threshold:
    if isinstance(spec, bool):
        raise ThresholdsError(f"{path}: {suite}.{metric} must be a number")
    if isinstance(spec, int | float):
        return Threshold(suite, metric, ">=", float(spec))
    if isinstance(spec, dict) and len(spec) == 1:
        ((key, value),) = spec.items()
        if key in ("min", "max") and isinstance(value, int | float) and not isinstance(value, bool):
            return Threshold(suite, metric, ">=" if key == "min" else "<=", float(value))
    raise ThresholdsError(f"{path}: {suite}.{metric} must be a number or {{min|max = n}}")


def check(report: EvalReport, rules: list[Threshold]) -> list[GateCheck]:
    """Check ``rules`` for the suites in ``report``; also stores the result in ``report.gate``."""
    checks = []
    for rule in rules:
        if rule.suite not in report.suites:
            continue
        value = report.metric(rule.suite, rule.metric)
        ok = value is not None and (value >= rule.value if rule.op == ">=" else value <= rule.value)
        checks.append(
            GateCheck(
                suite=rule.suite,
                metric=rule.metric,
                op=rule.op,
                threshold=rule.value,
                value=value,
                passed=ok,
            )
        )
    report.gate = checks
    return checks


@dataclass(frozen=True)
class Change:
    """One metric compared between two reports."""

    suite: str
    metric: str
    before: float | None
    after: float | None
    verdict: str  # "regression", "improvement", "same", "added", "removed"

    @property
    def delta(self) -> float | None:
        """``after - before`` when both exist."""
        if self.before is None or self.after is None:
            return None
        return round(self.after - self.before, 6)


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of ``metric`` is the better one."""
    return metric.startswith(LOWER_IS_BETTER_PREFIXES)


def compare(before: EvalReport, after: EvalReport, *, tolerance: float = 0.005) -> list[Change]:
    """Every metric of either report, classified.

    Args:
        before: The baseline report.
        after: The new report.
        tolerance: Absolute change below which a figure counts as the same.
    """
    changes: list[Change] = []
    suites = list(dict.fromkeys([*before.suites, *after.suites]))
    for suite in suites:
        a = before.suites[suite].metrics if suite in before.suites else {}
        b = after.suites[suite].metrics if suite in after.suites else {}
        for metric in dict.fromkeys([*a, *b]):
            old, new = a.get(metric), b.get(metric)
            if old is None:
                verdict = "added"
            elif new is None:
                verdict = "removed"
            elif abs(new - old) <= tolerance:
                verdict = "same"
            else:
                better = new < old if lower_is_better(metric) else new > old
                verdict = "improvement" if better else "regression"
            changes.append(Change(suite, metric, old, new, verdict))
    return changes
