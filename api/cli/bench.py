"""``grace bench``: measured figures, written as JSON plus a readable table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.console import console, handle_errors, run_async
from evals.bench.report import BenchReport
from graphs.core.settings import get_settings

app = typer.Typer(help="Benchmarks: JSON report + table per run.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", help="Directory for the JSON and Markdown reports.")]


def _show(report: BenchReport, out: Path) -> None:
    table = Table(title=f"grace bench {report.benchmark}", title_justify="left")
    for col in ("scenario", "ops/s", "p50 ms", "p95 ms", "p99 ms", "target", "met"):
        table.add_column(col, justify="right" if col not in ("scenario", "target") else "left")
    for s in report.scenarios:
        met = "" if s.met is None else ("[green]yes[/]" if s.met else "[red]no[/]")
        table.add_row(
            s.name,
            f"{s.throughput_per_s:,.0f}",
            f"{s.latency.p50_ms:.3f}",
            f"{s.latency.p95_ms:.3f}",
            f"{s.latency.p99_ms:.3f}",
            s.target or "",
            met,
        )
    console.print(table)
    console.print(", ".join(f"{k}={v}" for k, v in report.environment.items()), style="dim")
    json_path, md_path = report.write(out)
    console.print(f"Wrote {json_path} and {md_path}")


@app.command()
@handle_errors
def workflows(
    transitions: Annotated[
        int, typer.Option(min=100, help="Measured transitions per scenario.")
    ] = 3000,
    concurrency: Annotated[int, typer.Option(min=2, max=64, help="Concurrent callers.")] = 8,
    out: OutOpt = Path("bench-results"),
) -> None:
    """Transitions/s through the workflow engine: one client, then N concurrent clients."""
    from evals.bench.workflows import run_workflow_bench

    with console.status("Running the workflow engine benchmark…"):
        report = run_async(
            lambda: run_workflow_bench(
                get_settings(), transitions=transitions, concurrency=concurrency
            )
        )
    _show(report, out)
