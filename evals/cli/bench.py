"""``grace bench``: measured figures, written as JSON plus a readable table."""

from __future__ import annotations

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
from evals.bench.report import BenchReport
from graphs.core.settings import get_settings

app = typer.Typer(help="Benchmarks: JSON report + table per run.", no_args_is_help=True)

OutOpt = Annotated[Path, typer.Option("--out", help="Directory for the JSON and Markdown reports.")]


def _show(report: BenchReport, out: Path) -> None:
    recall = any("recall_at_10" in s.params for s in report.scenarios)
    cols = ["scenario", "ops/s", "p50 ms", "p95 ms", "p99 ms"]
    cols += ["recall@10"] if recall else []
    table = Table(title=f"grace bench {report.benchmark}", title_justify="left")
    for col in [*cols, "target", "met"]:
        table.add_column(col, justify="right" if col not in ("scenario", "target") else "left")
    for s in report.scenarios:
        met = "" if s.met is None else ("[green]yes[/]" if s.met else "[red]no[/]")
        row = [
            s.name,
            f"{s.throughput_per_s:,.0f}"
            if s.throughput_per_s >= 100
            else f"{s.throughput_per_s:.1f}",
            f"{s.latency.p50_ms:.3f}",
            f"{s.latency.p95_ms:.3f}",
            f"{s.latency.p99_ms:.3f}",
        ]
        row += [str(s.params.get("recall_at_10", ""))] if recall else []
        table.add_row(*row, s.target or "", met)
    console.print(table)
    alternatives: list[dict[str, Any]] = getattr(report, "alternatives", [])
    if alternatives:
        alt = Table(title="alternatives (same data, same queries)", title_justify="left")
        for col in ("configuration", "p50 ms", "p95 ms", "recall@10", "rows"):
            alt.add_column(col, justify="left" if col == "configuration" else "right")
        for a in alternatives:
            alt.add_row(a["name"], f"{a['p50_ms']:.3f}", f"{a['p95_ms']:.3f}",
                        f"{a['recall_at_10']:.4f}", f"{a.get('rows', '')}")  # fmt: skip
        console.print(alt)
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


@app.command()
@handle_errors
def playbooks(
    steps: Annotated[int, typer.Option(min=10, help="Steps in the measured chain.")] = 200,
    concurrency: Annotated[int, typer.Option(min=2, max=64, help="Concurrent runs.")] = 8,
    out: OutOpt = Path("bench-results"),
) -> None:
    """Playbook engine overhead per step (p50 target 5 ms), then N concurrent runs."""
    from evals.bench.playbooks import run_playbook_bench

    with console.status("Running the playbook engine benchmark…"):
        report = run_async(
            lambda: run_playbook_bench(get_settings(), steps=steps, concurrency=concurrency)
        )
    _show(report, out)


@app.command()
@handle_errors
def knowledge(
    vectors: Annotated[
        int, typer.Option(min=1000, help="Synthetic 384-d vectors for the search part.")
    ] = 100_000,
    queries: Annotated[
        int, typer.Option(min=2, help="Held-out query vectors (and end-to-end questions).")
    ] = 200,
    skip_ingest: Annotated[
        bool,
        typer.Option(
            "--skip-ingest", help="Only the search part (no model: no ingestion, no end-to-end)."
        ),
    ] = False,
    chunks: Annotated[int, typer.Option(min=2, help="Chunks of the generated corpus.")] = 400,
    files: Annotated[int, typer.Option(min=1, help="Files of the generated corpus.")] = 40,
    halfvec: Annotated[
        bool, typer.Option("--halfvec", help="Also measure a halfvec HNSW index (~1 min more).")
    ] = False,
    out: OutOpt = Path("bench-results"),
) -> None:
    """Ingestion chunks/s vs raw encode, vector search p50/recall, end-to-end retrieval.

    Runs in a scratch database ``grace_bench_kb`` on the embedded server (dropped afterwards),
    or in DATABASE_URL (the rows it adds and the indexes it builds are removed at the end).
    """
    from evals.bench.knowledge import run_knowledge_bench
    from knowledge.embedding.local import EmbedderError

    with labelled_progress() as progress:
        try:
            report = run_async(
                lambda: run_knowledge_bench(
                    get_settings(),
                    vectors=vectors,
                    queries=queries,
                    ingest=not skip_ingest,
                    chunks=chunks,
                    files=files,
                    halfvec=halfvec,
                    progress=progress,
                )
            )
        except EmbedderError as exc:
            err_console.print(f"[bold red]Embedding model unavailable:[/] {exc}")
            raise typer.Exit(EXIT_UNAVAILABLE) from None
    _show(report, out)


@app.command()
@handle_errors
def chat(
    decisions: Annotated[int, typer.Option(min=10, help="Timed router decisions.")] = 500,
    turns: Annotated[int, typer.Option(min=10, help="Timed chat turns.")] = 200,
    baseline: Annotated[bool, typer.Option(help="Also time the router on eager PyTorch.")] = False,
    out: OutOpt = Path("bench-results"),
) -> None:
    """Router decision latency and orchestration overhead per turn (fake LLM, Postgres)."""
    from evals.bench.chat import router_report, run_router_bench
    from evals.bench.chat_turn import turn_overhead
    from graphs.core.database import resolve_target

    settings = get_settings()

    async def go() -> BenchReport:
        scenarios = await run_router_bench(settings, n=decisions, baseline=baseline)
        url = resolve_target(settings).url
        scenarios.append(await turn_overhead(settings, url, turns=turns))
        other = "async" if settings.checkpoint_durability == "exit" else "exit"
        # the alternative durability, same run
        scenarios.append(await turn_overhead(settings, url, turns=turns, durability=other))
        return router_report(scenarios)

    with console.status("Running the chat benchmark…"):
        report = run_async(go)
    _show(report, out)


@app.command()
@handle_errors
def api(
    duration: Annotated[float, typer.Option(min=1.0, help="Measured seconds per scenario.")] = 20.0,
    clients: Annotated[int, typer.Option(min=1, max=500, help="Concurrent clients.")] = 50,
    rate: Annotated[
        list[float] | None,
        typer.Option(
            min=0.01,
            help="chat: messages per second each client sends (Poisson); repeat for a sweep "
            "(default: 0.25, 0.5 and 1).",
        ),
    ] = None,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="chat, chat_saturated, workflows, search and/or chat_offline (default: all)."
        ),
    ] = None,
    servers: Annotated[
        int,
        typer.Option(
            min=1, max=16, help="Server processes, like `grace serve --workers N` (default 1)."
        ),
    ] = 1,
    out: OutOpt = Path("bench-results"),
) -> None:
    """HTTP API under concurrent load on loopback: req/s and p50/p95/p99.

    The server runs in its own process against a scratch database ``grace_bench_api`` on the
    embedded server (or DATABASE_URL). ``chat`` offers steady loads (CLIENTS x RATE
    messages/s, one row per rate) and carries the p99 target; ``chat_saturated`` sends back
    to back and measures capacity (both with a fake LLM and a fixed router). ``search`` loads
    the local embedding model and ingests the handbook. ``chat_offline`` sends back to back to
    what a user without an LLM key runs: the real router, retrieval and offline replies.
    """
    from evals.bench.api import RATES_PER_CLIENT, SCENARIOS, run_api_bench

    chosen = tuple(scenario or SCENARIOS)
    with console.status(f"Load-testing the API ({clients} clients, {duration:g} s per scenario)…"):
        report = run_async(
            lambda: run_api_bench(
                get_settings(),
                duration_s=duration,
                clients=clients,
                scenarios=chosen,
                rates_per_client=tuple(rate or RATES_PER_CLIENT),
                servers=servers,
            )
        )
    _show(report, out)


@app.command()
@handle_errors
def startup(
    runs: Annotated[int, typer.Option(min=1, max=20, help="Measured processes per row.")] = 3,
    out: OutOpt = Path("bench-results"),
) -> None:
    """Start-up: cold `grace ask` wall time and peak RSS, `grace serve` time to /readyz 200.

    Fresh processes on a prepared scratch data dir under /tmp (embedded server, offline
    replies); the ONNX export is copied from your data dir when present. Targets: ask < 3 s,
    serve ready < 5 s (an idle two-core machine; the load average is in the report).
    """
    from evals.bench.startup import run_startup_bench

    with console.status(f"Starting grace ask and grace serve {runs} times each…"):
        report = run_startup_bench(get_settings(), runs=runs)
    _show(report, out)


@app.command()
@handle_errors
def scale(
    duration: Annotated[
        float, typer.Option(min=1.0, help="Measured seconds per chat phase.")
    ] = 15.0,
    clients: Annotated[int, typer.Option(min=1, max=500, help="Concurrent chat clients.")] = 32,
    jobs: Annotated[int, typer.Option(min=2, help="Ingestion jobs per phase.")] = 8,
    files: Annotated[int, typer.Option(min=1, help="Documents per ingestion job.")] = 10,
    out: OutOpt = Path("bench-results"),
) -> None:
    """Chat throughput with 1 vs 2 API replicas and ingestion with 1 vs 2 workers (needs Redis).

    Replicas and workers are real processes on loopback sharing one database (a scratch
    ``grace_bench_scale`` on the embedded server, or DATABASE_URL) and Redis; fake LLM.
    """
    from evals.bench.scale import run_scale_bench

    settings = get_settings()
    if settings.redis_url is None:
        err_console.print("[bold red]Needs Redis:[/] set REDIS_URL (replicas share it).")
        raise typer.Exit(EXIT_UNAVAILABLE)
    with console.status("Measuring 1 vs 2 replicas, then 1 vs 2 workers…"):
        report = run_async(
            lambda: run_scale_bench(
                settings, clients=clients, duration_s=duration, jobs=jobs, files_per_job=files
            )
        )
    _show(report, out)
    env = report.environment
    console.print(
        f"Scaling ratios (2 vs 1): chat [bold]{env['chat_ratio_2_vs_1']}x[/], "
        f"ingestion [bold]{env['ingest_ratio_2_vs_1']}x[/] on {env.get('cpus')} CPU(s)."
    )


@app.command()
@handle_errors
def crash(
    clients: Annotated[int, typer.Option(min=1, max=100, help="Concurrent clients.")] = 10,
    turns: Annotated[int, typer.Option(min=2, help="Turns per client.")] = 3,
    turn_s: Annotated[
        float, typer.Option(min=0.2, help="Seconds the fake model takes per reply.")
    ] = 1.0,
    without_keys: Annotated[
        bool, typer.Option("--without-keys", help="Also retry without Idempotency-Key.")
    ] = False,
    out: OutOpt = Path("bench-results"),
) -> None:
    """SIGKILL the API server mid-turn under load, restart it, count lost and doubled messages.

    The server runs in its own process against a scratch database ``grace_bench_crash`` on
    the embedded server (or DATABASE_URL); clients retry with their Idempotency-Key.
    """
    from evals.bench.crash import run_crash_bench

    with console.status(f"Crashing the server under {clients} clients x {turns} turns…"):
        report = run_async(
            lambda: run_crash_bench(
                get_settings(), clients=clients, turns=turns, turn_s=turn_s,
                without_keys=without_keys,
            )
        )  # fmt: skip
    counts = Table(title="after kill -9 mid-turn", title_justify="left")
    cols = ["scenario", "in flight", "recovered before retry", "recovery s", "lost",
            "duplicated", "unanswered", "retries"]  # fmt: skip
    for col in cols:
        counts.add_column(col, justify="left" if col == "scenario" else "right")
    for s in report.scenarios:
        p = s.params
        counts.add_row(s.name, *(str(p[k]) for k in ("in_flight_at_kill",
                       "recovered_before_retry", "recovery_s", "lost", "duplicated",
                       "unanswered", "retries")))  # fmt: skip
    console.print(counts)
    _show(report, out)
