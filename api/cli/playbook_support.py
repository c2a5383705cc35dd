"""Shared pieces of ``grace playbooks``: the run printer and summary, the runner, refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from api.cli.console import EXIT_REFUSED, console, err_console, run_async
from graphs.core.database import Database
from graphs.playbooks.model import PlaybookError
from graphs.playbooks.runner import PlaybookRunner, open_checkpointer
from graphs.playbooks.store import RunRecord, StepRecord, UnknownRunError


def refuse(msg: str) -> typer.Exit:
    """Print a refusal on stderr and return the exit (code 1) to raise."""
    err_console.print(f"[bold red]Refused:[/] {msg}")
    return typer.Exit(EXIT_REFUSED)


def guard(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``fn``; playbook errors, unknown runs and lookups become a one-line refusal."""
    try:
        return run_async(fn)
    except (PlaybookError, UnknownRunError, LookupError) as exc:
        raise refuse(str(exc)) from None


def print_event(e: dict[str, Any]) -> None:
    """Print one run event: a stage, its handoff package or the states it moved."""
    kind = e["type"]
    if kind == "playbook.started":
        console.print(f"[bold]▶ {e['playbook']}[/] v{e['version']}  run [bold]{e['run_id']}[/]")
    elif kind == "playbook.step.completed":
        console.print(f"[green]✓[/] [bold]{e['step']}[/]  [cyan]{e['persona']}[/]", end="")
        t = e.get("transition")
        if t:
            note = " [dim](replayed)[/]" if t["replayed"] else ""
            console.print(f"  {t['workflow_id']} {t['event']} by {t['actor']}: "
                          f"{t['from']} → [bold]{t['to']}[/]{note}")  # fmt: skip
        elif e.get("package_type"):
            console.print(f"  handoff {e['from']} → {e['to']}: [magenta]{e['package_type']}[/]")
            console.print_json(json.dumps(e["package"]), indent=None)
        elif "query" in e:
            found = len(e.get("results") or [])
            console.print(f"  lookup {e['query']!r}: {found} passage(s) {e.get('note') or ''}")
        elif e.get("topic"):
            console.print(f"  notified [italic]{e['topic']}[/]")
        else:
            console.print(f"  approved by {e.get('approved_by')}")
    elif kind == "playbook.step.waiting":
        what = f" ({e['workflow']} {e['event']})" if e.get("event") else ""
        console.print(f"[yellow]⏸[/] [bold]{e['step']}[/] waits for a person{what}: "
                      f"{e.get('description') or ''}")  # fmt: skip
    elif kind == "playbook.step.failed":
        console.print(f"[red]✗[/] [bold]{e['step']}[/]: {e['error']}")
    elif kind in ("playbook.completed", "playbook.failed"):
        colour = "green" if e["status"] == "completed" else "red"
        console.print(f"[{colour}]■ {e['status']}[/] in {e['duration_s']:.2f} s")


@asynccontextmanager
async def open_runner(printing: bool) -> AsyncIterator[PlaybookRunner]:
    """A runner on the configured database; ``printing`` adds the event printer."""
    from graphs.playbooks.lookup import knowledge_lookup

    async def sink(e: dict[str, Any]) -> None:
        print_event(e)

    async with await Database.connect() as db:
        saver, pool = await open_checkpointer(db.url)
        try:
            yield PlaybookRunner(db, saver, lookup=knowledge_lookup(db),
                                 sinks=[sink] if printing else [])  # fmt: skip
        finally:
            await pool.close()


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run as JSON-ready data."""
    return run.model_dump(mode="json")


async def finish(
    runner: PlaybookRunner, run: RunRecord, approve_as: str | None, hints: bool
) -> RunRecord:
    """Approve every gate as ``approve_as`` (demos); else print how to answer each gate."""
    while approve_as and run.status == "waiting_approval":
        for gate in await runner.pending(run.id):
            if hints:
                console.print(f"[yellow]→ approving {gate['step']} as human:{approve_as}[/]")
            run = await runner.approve(run.id, gate["step"], by=approve_as)
    if hints and run.status == "waiting_approval":
        for gate in await runner.pending(run.id):
            console.print(f"  grace playbooks approve {run.id} {gate['step']} --by NAME")
    return run


def _step_result(step: StepRecord) -> str:
    """What a step did, in a few words: the states it moved, its package, or its error."""
    t = step.transition
    if t:
        return f"{t['workflow_id']} {t['from']} → {t['to']}"
    return str((step.output or {}).get("package_type") or step.error or "")


def _seconds(start: datetime, end: datetime | None) -> str:
    return f"{(end - start).total_seconds():.2f}" if end else "—"


def print_summary(run: RunRecord) -> None:
    """The end-of-run summary of ``grace playbooks run``: a table of steps, totals, next step.

    One row per recorded step (id, persona, status, what it did, seconds from its start to its
    end), then the run's status, the number of workflow transitions it made and its wall-clock
    duration in seconds (``created_at`` to ``finished_at``, or to the last update while it waits
    for a person), then how to roll it back when it moved any workflow state.
    """
    table = Table(title=f"run {run.id} — {run.playbook_id} v{run.version}", title_justify="left")
    for col in ("step", "persona", "status", "result", "s"):
        table.add_column(col, justify="right" if col == "s" else "left")
    for s in run.steps:
        table.add_row(s.step_id, s.persona, s.status, _step_result(s),
                      _seconds(s.started_at, s.finished_at))  # fmt: skip
    console.print(table)
    moved = [s for s in run.steps if s.transition and s.status == "completed"]
    done = sum(s.status == "completed" for s in run.steps)
    took = _seconds(run.created_at, run.finished_at or run.updated_at)
    console.print(f"[bold]{run.status}[/]: {done} of {len(run.steps)} steps completed, "
                  f"{len(moved)} workflow state(s) moved, {took} s")  # fmt: skip
    if moved and run.status != "rolled_back":
        console.print("roll back with (strategies: immediate | graceful | checkpoint | manual):")
        console.print(f"  grace playbooks rollback {run.id} --strategy graceful",
                      highlight=False, soft_wrap=True)  # fmt: skip
