"""``grace eval``: run the offline eval suites, gate them, compare two runs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.console import (
    EXIT_UNAVAILABLE,
    console,
    err_console,
    handle_errors,
    labelled_progress,
    run_async,
)

app = typer.Typer(
    help="Eval suites: routing, escalation, retrieval, answers, atlas, compliance, playbooks,"
    " injection.",
    no_args_is_help=True,
)

#: Exit code when a gate threshold is missed or a comparison finds a regression.
EXIT_GATE = 1


class ProviderChoice(StrEnum):
    """Which language model the runtime uses during the run."""

    offline = "offline"
    openai = "openai"
    anthropic = "anthropic"


@app.command("run")
@handle_errors
def run(
    suites: Annotated[
        list[str] | None,
        typer.Argument(
            help="Suites to run (default: all): routing escalation triage retrieval answers "
            "atlas compliance playbooks injection."
        ),
    ] = None,
    provider: Annotated[
        ProviderChoice, typer.Option(help="offline: no language model; else that provider.")
    ] = ProviderChoice.offline,
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="Runs per case (pass^k).")] = 1,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N cases of each dataset (smoke).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="Cases at once, where safe.")] = 4,
    out: Annotated[Path, typer.Option("--out", help="Directory for the reports.")] = Path(
        "eval-results"
    ),
    gate: Annotated[
        bool, typer.Option("--gate/--no-gate", help="Exit 1 when evals/thresholds.toml is missed.")
    ] = True,
    thresholds: Annotated[
        Path | None, typer.Option(help="Thresholds file (default: evals/thresholds.toml).")
    ] = None,
    html: Annotated[bool, typer.Option("--html", help="Also write report.html.")] = False,
) -> None:
    """Run suites against a fresh scratch database (or DATABASE_URL); write report.json/.md."""
    from agents.llm.errors import ProviderConfigurationError
    from evals.gate import THRESHOLDS, ThresholdsError, check, load_thresholds
    from evals.runner import UnknownSuiteError, run_eval, select
    from evals.schemas import DatasetError
    from graphs.core.settings import get_settings
    from knowledge.embedding.local import EmbedderError

    try:
        names = select(suites or [])
        rules = load_thresholds(thresholds or THRESHOLDS) if gate else []
    except (UnknownSuiteError, ThresholdsError) as exc:
        err_console.print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(2) from None
    with labelled_progress() as progress:
        try:
            report = run_async(
                lambda: run_eval(
                    get_settings(),
                    names,
                    provider=provider.value,
                    k=k,
                    limit=limit,
                    concurrency=concurrency,
                    progress=progress,
                )
            )
        except DatasetError as exc:
            err_console.print(f"[bold red]Dataset error:[/] {exc}")
            raise typer.Exit(2) from None
        except (ProviderConfigurationError, EmbedderError) as exc:
            err_console.print(f"[bold red]Unavailable:[/] {exc}")
            raise typer.Exit(EXIT_UNAVAILABLE) from None
    if gate:
        check(report, rules)
    _show(report)
    paths = report.write(out, html_report=html)
    console.print("Wrote " + ", ".join(str(p) for p in paths))
    if gate and not report.gate_passed:
        missed = [c for c in report.gate if not c.passed]
        err_console.print(
            "[bold red]Gate failed:[/] "
            + "; ".join(
                f"{c.suite}.{c.metric} = {c.value} (needs {c.op} {c.threshold:g})" for c in missed
            )
        )
        raise typer.Exit(EXIT_GATE)


def _show(report: Any) -> None:
    table = Table(title=f"grace eval ({report.provider}, k={report.k})", title_justify="left")
    for col in ("suite", "cases", "figures", "s"):
        table.add_column(col, justify="right" if col in ("cases", "s") else "left")
    for s in report.suites.values():
        figures = "\n".join(f"{k} = {v:g}" for k, v in s.metrics.items())
        table.add_row(s.suite, str(s.cases), figures, f"{s.seconds:g}")
    console.print(table)
    for c in report.gate:
        if not c.passed:
            console.print(
                f"[red]✗[/] {c.suite}.{c.metric} = {c.value} (needs {c.op} {c.threshold:g})"
            )
    if report.gate:
        verdict = "[green]passed[/]" if report.gate_passed else "[red]FAILED[/]"
        console.print(f"Gate: {verdict} ({sum(c.passed for c in report.gate)}/{len(report.gate)})")


@app.command("compare")
def compare(
    before: Annotated[Path, typer.Argument(help="Baseline report.json.", exists=True)],
    after: Annotated[Path, typer.Argument(help="New report.json.", exists=True)],
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="Absolute change ignored as noise.")
    ] = 0.005,
) -> None:
    """Show each metric's change; exit 1 when any metric regressed beyond the tolerance."""
    from pydantic import ValidationError

    from evals.gate import compare as compare_reports
    from evals.report import EvalReport

    try:
        a, b = EvalReport.load(before), EvalReport.load(after)
    except (OSError, ValidationError) as exc:
        err_console.print(f"[bold red]Not an eval report:[/] {exc}")
        raise typer.Exit(2) from None
    changes = compare_reports(a, b, tolerance=tolerance)
    table = Table(title=f"{before} → {after}", title_justify="left")
    for col in ("suite", "metric", "before", "after", "Δ", "verdict"):
        table.add_column(col, justify="right" if col in ("before", "after", "Δ") else "left")
    colour = {"regression": "red", "improvement": "green"}
    for c in changes:
        style = colour.get(c.verdict)
        verdict = f"[{style}]{c.verdict}[/]" if style else c.verdict
        table.add_row(c.suite, c.metric, _num(c.before), _num(c.after), _num(c.delta), verdict)
    console.print(table)
    regressions = [c for c in changes if c.verdict == "regression"]
    if regressions:
        err_console.print(f"[bold red]{len(regressions)} regression(s)[/]")
        raise typer.Exit(EXIT_GATE)
    console.print("No regressions.")


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"
