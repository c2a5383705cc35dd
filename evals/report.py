"""The eval report: JSON (machines, ``grace eval compare``), Markdown and HTML (people)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from evals.suites.base import SuiteResult

#: Failures listed per suite in the readable reports (all of them are in the JSON).
MAX_FAILURES_SHOWN = 40


class GateCheck(BaseModel):
    """One threshold of ``evals/thresholds.toml`` checked against a figure."""

    suite: str
    metric: str
    op: str
    threshold: float
    value: float | None
    passed: bool


class EvalReport(BaseModel):
    """Everything one ``grace eval run`` measured.

    Attributes:
        started_at: ISO time (UTC) the run started.
        provider: ``offline``, ``openai`` or ``anthropic``.
        k: Runs per case.
        limit: Cases per dataset, when limited.
        database: ``embedded (scratch)`` or ``DATABASE_URL``.
        environment: Python, machine, CPUs, embedding model.
        suites: Results by suite name.
        gate: Threshold checks (filled by :func:`evals.gate.check`).
    """

    started_at: str
    provider: str
    k: int = 1
    limit: int | None = None
    database: str = ""
    environment: dict[str, Any] = Field(default_factory=dict)
    suites: dict[str, SuiteResult] = Field(default_factory=dict)
    gate: list[GateCheck] = Field(default_factory=list)

    @property
    def gate_passed(self) -> bool:
        """True when every checked threshold holds."""
        return all(c.passed for c in self.gate)

    def metric(self, suite: str, name: str) -> float | None:
        """One figure, or None when the suite or metric is absent."""
        s = self.suites.get(suite)
        return None if s is None else s.metrics.get(name)

    @classmethod
    def load(cls, path: Path) -> EvalReport:
        """Read a ``report.json``.

        Raises:
            OSError: unreadable file.
            pydantic.ValidationError: not an eval report.
        """
        return cls.model_validate_json(path.read_text(encoding="utf-8"))

    def write(self, out: Path, *, html_report: bool = False) -> list[Path]:
        """Write ``report.json`` and ``report.md`` (and ``report.html``) into ``out``."""
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "report.json", out / "report.md"]
        paths[0].write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n", "utf-8")
        paths[1].write_text(self.markdown(), encoding="utf-8")
        if html_report:
            paths.append(out / "report.html")
            paths[2].write_text(self.html(), encoding="utf-8")
        return paths

    # ---------------------------------------------------------------- markdown
    def markdown(self) -> str:
        """The readable report: summary, gate, then one section per suite."""
        lines = [
            f"# grace eval — {self.started_at}",
            "",
            f"Provider **{self.provider}**, k = {self.k}"
            + (f", first {self.limit} cases per dataset" if self.limit else "")
            + f", database: {self.database}. "
            + ", ".join(f"{k}={v}" for k, v in self.environment.items()),
            "",
            "## Summary",
            "",
            "| suite | cases | figures | seconds |",
            "|---|---:|---|---:|",
        ]
        for s in self.suites.values():
            figures = ", ".join(f"{k} {_fmt(v)}" for k, v in s.metrics.items())
            lines.append(f"| {s.suite} | {s.cases} | {figures} | {s.seconds} |")
        if self.gate:
            verdict = "passed" if self.gate_passed else "**FAILED**"
            lines += [
                "",
                f"## Gate: {verdict}",
                "",
                "| check | value | threshold | ok |",
                "|---|---:|---|---|",
            ]
            for c in self.gate:
                ok = "yes" if c.passed else "**NO**"
                value = "missing" if c.value is None else _fmt(c.value)
                lines.append(
                    f"| {c.suite}.{c.metric} | {value} | {c.op} {_fmt(c.threshold)} | {ok} |"
                )
        for s in self.suites.values():
            lines += ["", *suite_markdown(s)]
        return "\n".join(lines) + "\n"

    def html(self) -> str:
        """A standalone HTML page with the Markdown report in a ``<pre>`` block per section."""
        body = html.escape(self.markdown())
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>grace eval</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2em}pre{white-space:pre-wrap}"
            "</style></head><body><pre>" + body + "</pre></body></html>\n"
        )


def suite_markdown(s: SuiteResult) -> list[str]:
    """One suite's section: figures, pass^k curve, tables from ``details``, failures."""
    lines = [f"## {s.suite}", "", f"{s.cases} cases, k = {s.k}, {s.seconds} s.", ""]
    lines += ["| figure | value |", "|---|---:|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in s.metrics.items()]
    if s.k > 1 and s.pass_curve:
        lines += [
            "",
            "pass^k: " + ", ".join(f"pass^{j} {_fmt(v)}" for j, v in sorted(s.pass_curve.items())),
        ]
    matrix = s.details.get("confusion_matrix")
    labels = s.details.get("labels")
    if matrix and labels:
        lines += ["", "Confusion matrix (rows: expected, columns: got):", ""]
        lines.append("| | " + " | ".join(str(x) for x in labels) + " |")
        lines.append("|---|" + "---:|" * len(labels))
        for label, row in zip(labels, matrix, strict=True):
            lines.append(f"| **{label}** | " + " | ".join(str(v) for v in row) + " |")
    per_class = s.details.get("per_class")
    if per_class:
        lines += ["", "| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        for label, sc in per_class.items():
            lines.append(
                f"| {label} | {_fmt(sc['precision'])} | {_fmt(sc['recall'])} | "
                f"{_fmt(sc['f1'])} | {sc['support']} |"
            )
    for key, value in s.details.items():
        if key in {"confusion_matrix", "labels", "per_class"}:
            continue
        if (
            isinstance(value, dict)
            and value
            and all(isinstance(v, int | float) for v in value.values())
        ):
            lines += [
                "",
                f"{key.replace('_', ' ')}: "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()),
            ]
    if s.failures:
        shown = s.failures[:MAX_FAILURES_SHOWN]
        lines += [
            "",
            f"### Failures ({len(s.failures)})",
            "",
            "| case | tags | expected | got | detail |",
            "|---|---|---|---|---|",
        ]
        for f in shown:
            runs = f" ({f.runs_failed}/{s.k} runs)" if s.k > 1 else ""
            lines.append(
                f"| {f.id}{runs} | {', '.join(f.tags)} | {_cell(f.expected)} | {_cell(f.got)} | "
                f"{_cell(f.detail)} |"
            )
        if len(s.failures) > len(shown):
            lines.append(f"\n… and {len(s.failures) - len(shown)} more in report.json.")
    else:
        lines += ["", "No failures."]
    return lines


def _fmt(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.4f}".rstrip("0")
    return str(int(value)) if isinstance(value, float) else str(value)


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"
