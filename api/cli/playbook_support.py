"""Shared pieces of ``grace playbooks``: the run printer, the runner, refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import typer

from api.cli.console import EXIT_REFUSED, console, err_console, run_async
from graphs.core.database import Database
from graphs.playbooks.model import PlaybookError
from graphs.playbooks.runner import PlaybookRunner, open_checkpointer
from graphs.playbooks.store import RunRecord, UnknownRunError


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
