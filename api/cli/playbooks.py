"""``grace playbooks``: multi-step, multi-persona automations from the command line.

list, show, validate, run, approve, resume, status, cancel, rollback, history, suggest,
analytics and ``webhooks add | list | remove``; every command takes ``--json``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli import playbook_webhooks
from api.cli.console import EXIT_REFUSED, console, handle_errors, print_json, run_async
from api.cli.playbook_support import (
    finish,
    guard,
    open_runner,
    print_summary,
    refuse,
    run_json,
)
from graphs.core.database import Database
from graphs.playbooks.model import PlaybookError, default_playbooks, load_file
from graphs.playbooks.rollback import STRATEGIES, rollback
from graphs.playbooks.store import RunRecord
from graphs.playbooks.validate import LEVELS, Report, validate

app = typer.Typer(
    help="Playbooks: named, versioned automations across personas and workflows.",
    no_args_is_help=True,
)
app.add_typer(playbook_webhooks.app, name="webhooks")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RunArg = Annotated[str, typer.Argument(help="Run id.")]


@app.command("list")
@handle_errors
def list_playbooks(as_json: JsonOpt = False) -> None:
    """List the built-in playbooks."""
    pbs = list(default_playbooks())
    if as_json:
        print_json([{"id": p.id, "version": p.version, "name": p.name, "level": p.level,
                     "steps": len(p.steps), "tags": list(p.tags)} for p in pbs])  # fmt: skip
        return
    table = Table(title=f"{len(pbs)} playbooks", title_justify="left")
    for col in ("id", "version", "name", "level", "steps", "tags"):
        table.add_column(col)
    for p in pbs:
        table.add_row(f"[bold]{p.id}[/]", str(p.version), p.name, str(p.level),
                      str(len(p.steps)), ", ".join(p.tags))  # fmt: skip
    console.print(table)


@app.command()
@handle_errors
def show(
    playbook: Annotated[str, typer.Argument(help="Playbook id.")], as_json: JsonOpt = False
) -> None:
    """Show a playbook: parameters and every step with persona, workflow and dependencies."""
    try:
        pb = default_playbooks().get(playbook)
    except LookupError as exc:
        raise refuse(str(exc)) from None
    if as_json:
        print_json(pb.model_dump(mode="json"))
        return
    console.print(f"[bold]{pb.id}[/] v{pb.version} — {pb.name} (level {pb.level})")
    console.print(pb.description + "\n")
    for p in pb.parameters:
        need = "required" if p.required else f"default {p.default!r}"
        console.print(f"  param [bold]{p.name}[/]: {p.type} ({need}) {p.description}")
    table = Table()
    for col in ("step", "kind", "persona", "does", "after", "undo"):
        table.add_column(col)
    for s in pb.steps:
        does = (f"{s.workflow} {s.event}" if s.event else (s.package and f"{s.package} → {s.to}")
                or s.query or s.topic or s.description)  # fmt: skip
        undo = f"{s.compensation.event} ({s.compensation.persona})" if s.compensation else ""
        mark = f" [dim]◆{s.checkpoint}[/]" if s.checkpoint else ""
        table.add_row(f"[bold]{s.id}[/]{mark}", s.kind, s.persona, does or "",
                      ", ".join(s.depends_on), undo)  # fmt: skip
    console.print(table)


@app.command("validate")
@handle_errors
def validate_cmd(
    target: Annotated[str | None, typer.Argument(help="Playbook id or YAML file.")] = None,
    level: Annotated[str, typer.Option(help=f"One of {', '.join(LEVELS)}.")] = "strict",
    all_: Annotated[bool, typer.Option("--all", help="Validate every built-in.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate playbooks at a level (paranoid dry-runs each on a scratch database)."""
    if level not in LEVELS:
        raise refuse(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    if all_:
        pbs = list(default_playbooks())
    elif target and Path(target).is_file():
        pbs = [_guard_load(Path(target))]
    elif target:
        pbs = [guard(_async_get(target))]
    else:
        raise refuse("give a playbook id or file, or --all")

    async def go() -> list[Report]:
        if level != "paranoid":
            return [validate(pb, level) for pb in pbs]
        from graphs.playbooks.dryrun import dry_run

        async with await Database.connect() as db:
            return [await dry_run(pb, db.url) for pb in pbs]

    reports = run_async(go)
    if as_json:
        print_json([r.as_dict() for r in reports])
    else:
        for r in reports:
            mark = "[green]✓[/]" if r.ok else "[red]✗[/]"
            console.print(f"{mark} [bold]{r.playbook}[/] at {r.level}")
            for i in r.issues:
                console.print(f"    {i}")
            for wf, state in r.final_states.items():
                console.print(f"    dry run: {wf} ended in [bold]{state}[/]")
    if not all(r.ok for r in reports):
        raise typer.Exit(EXIT_REFUSED)


def _guard_load(path: Path) -> Any:
    try:
        return load_file(path)
    except PlaybookError as exc:
        raise refuse(str(exc)) from None


def _async_get(pid: str) -> Callable[[], Awaitable[Any]]:
    async def get() -> Any:
        return default_playbooks().get(pid)

    return get


def _params(pairs: list[str], params_json: str | None, sample: bool, pid: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sample:
        out.update(default_playbooks().get(pid).sample_params)
    if params_json:
        try:
            value = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise refuse(f"--params is not JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise refuse("--params must be a JSON object")
        out.update(value)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise refuse(f"--param takes NAME=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


@app.command()
@handle_errors
def run(
    playbook: Annotated[str, typer.Argument(help="Playbook id, e.g. agency-cycle.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (JSON or text).")
    ] = None,
    params: Annotated[str | None, typer.Option(help="All parameters as a JSON object.")] = None,
    sample: Annotated[
        bool, typer.Option(help="Start from the playbook's sample parameters.")
    ] = False,
    approve_as: Annotated[
        str | None, typer.Option(help="Approve every gate as human:NAME (demos).")
    ] = None,
    by: Annotated[str, typer.Option(help="Who requests the run.")] = "operator",
    as_json: JsonOpt = False,
) -> None:
    """Run a playbook, showing each stage, its handoff package and the workflow states moved."""
    values = _params(param or [], params, sample, playbook)

    async def go() -> RunRecord:
        async with open_runner(not as_json) as r:
            out = await r.start(playbook, values, requested_by=by)
            return await finish(r, out, approve_as, not as_json)

    out = guard(go)
    if as_json:
        print_json(run_json(out))
    else:
        print_summary(out)


@app.command()
@handle_errors
def approve(
    run_id: RunArg,
    step: Annotated[str, typer.Argument(help="The approval step waiting.")],
    by: Annotated[str, typer.Option(help="Who decides (fires the step as human:NAME).")],
    reject: Annotated[bool, typer.Option(help="Refuse: the run fails.")] = False,
    note: Annotated[str, typer.Option(help="Recorded with the decision.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Answer an approval gate and continue the run."""

    async def go() -> RunRecord:
        async with open_runner(not as_json) as r:
            out = await r.approve(run_id, step, by=by, approved=not reject, note=note)
            return await finish(r, out, None, not as_json)

    out = guard(go)
    print_json(run_json(out)) if as_json else console.print(f"run {out.id}: {out.status}")


@app.command()
@handle_errors
def resume(run_id: RunArg, as_json: JsonOpt = False) -> None:
    """Continue a run whose process died, from its last checkpoint (no step applied twice)."""

    async def go() -> RunRecord:
        async with open_runner(not as_json) as r:
            return await finish(r, await r.resume(run_id), None, not as_json)

    out = guard(go)
    print_json(run_json(out)) if as_json else console.print(f"run {out.id}: {out.status}")


@app.command()
@handle_errors
def status(run_id: RunArg, as_json: JsonOpt = False) -> None:
    """Show a run: status, instances, and every step with its package or transition."""

    async def go() -> tuple[RunRecord, list[dict[str, Any]]]:
        async with open_runner(False) as r:
            rec = await r.store.get(run_id)
            return rec, await r.pending(run_id) if rec.status == "waiting_approval" else []

    rec, gates = guard(go)
    if as_json:
        print_json({**run_json(rec), "waiting_on": gates})
        return
    console.print(f"run [bold]{rec.id}[/] of [bold]{rec.playbook_id}[/] v{rec.version}: "
                  f"[bold]{rec.status}[/]{' — ' + rec.error if rec.error else ''}")  # fmt: skip
    for wf, iid in rec.instances.items():
        console.print(f"  {wf}: {iid}")
    table = Table()
    for col in ("step", "persona", "status", "runs", "result"):
        table.add_column(col)
    for s in rec.steps:
        t = s.transition
        res = (f"{t['workflow_id']} {t['from']} → {t['to']}" if t else
               (s.output or {}).get("package_type") or s.error or "")  # fmt: skip
        table.add_row(s.step_id, s.persona, s.status, str(s.executions), str(res))
    console.print(table)
    for g in gates:
        console.print(f"[yellow]waiting:[/] grace playbooks approve {rec.id} {g['step']} --by NAME")


@app.command()
@handle_errors
def cancel(run_id: RunArg, as_json: JsonOpt = False) -> None:
    """Cancel a run (at once when it waits for a person, else before its next steps)."""

    async def go() -> RunRecord:
        async with open_runner(False) as r:
            return await r.cancel(run_id)

    out = guard(go)
    print_json(run_json(out)) if as_json else console.print(f"run {out.id}: {out.status}")


@app.command("rollback")
@handle_errors
def rollback_cmd(
    run_id: RunArg,
    strategy: Annotated[str, typer.Option(help=f"One of {', '.join(STRATEGIES)}.")] = "graceful",
    checkpoint: Annotated[str | None, typer.Option(help="For --strategy checkpoint.")] = None,
    by: Annotated[
        str, typer.Option(help="Who orders it (human compensations run as human:NAME).")
    ] = "operator",
    as_json: JsonOpt = False,
) -> None:
    """Undo a run's steps by compensating transitions, newest first."""
    if strategy not in STRATEGIES:
        raise refuse(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")

    async def go() -> Any:
        async with open_runner(False) as r:
            return await rollback(r, run_id, strategy, checkpoint=checkpoint, by=by)

    rep = guard(go)
    if as_json:
        print_json(rep.as_dict())
        return
    for u in rep.undone:
        console.print(f"[green]↶[/] [bold]{u['step']}[/]: {u['workflow_id']} {u['event']} by "
                      f"{u['actor']}: {u['from']} → [bold]{u['to']}[/]")  # fmt: skip
    for line in rep.instructions:
        console.print(line, highlight=False)
    if rep.stopped_at:
        console.print(f"[yellow]stopped at {rep.stopped_at}:[/] {rep.reason}")
    console.print(f"rollback ({rep.strategy}): {rep.outcome}")


@app.command()
@handle_errors
def history(
    playbook: Annotated[str | None, typer.Option(help="Only this playbook.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Recent runs, newest first."""

    async def go() -> list[RunRecord]:
        async with open_runner(False) as r:
            return await r.store.history(playbook, limit)

    runs = guard(go)
    if as_json:
        print_json([run_json(x) for x in runs])
        return
    table = Table()
    for col in ("run", "playbook", "status", "by", "started"):
        table.add_column(col)
    for x in runs:
        table.add_row(
            str(x.id), x.playbook_id, x.status, x.requested_by, f"{x.created_at:%Y-%m-%d %H:%M:%S}"
        )
    console.print(table)


@app.command()
@handle_errors
def analytics(as_json: JsonOpt = False) -> None:
    """Runs per playbook by outcome, success rate and duration."""

    async def go() -> list[dict[str, Any]]:
        async with open_runner(False) as r:
            return await r.store.analytics()

    rows = guard(go)
    if as_json:
        print_json(rows)
        return
    table = Table()
    cols = ("playbook_id", "runs", "completed", "failed", "cancelled", "rolled_back",
            "in_progress", "success_rate", "p50_s")  # fmt: skip
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row[c]) for c in cols))
    console.print(table)


@app.command()
@handle_errors
def suggest(
    context: Annotated[str, typer.Argument(help="The request or intent.")],
    recent: Annotated[
        list[str] | None, typer.Option(help="A recent message of the thread (repeatable).")
    ] = None,
    k: Annotated[int, typer.Option(min=1, max=10, help="How many to show.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Rank playbooks for a context: local-encoder similarity x past success rate."""
    from agents.encoder import router_embedder
    from graphs.core.settings import get_settings
    from graphs.playbooks.suggest import PlaybookSuggester
    from knowledge.embedding.factory import get_default_embedder

    async def go() -> list[Any]:
        settings = get_settings()
        encoder = router_embedder(settings.data_dir / "models", get_default_embedder(settings))
        async with open_runner(False) as r:
            history = await r.store.success_rates()
        return PlaybookSuggester(encoder).rank(context, recent=recent or [], history=history, k=k)

    ranked = guard(go)
    if as_json:
        print_json([s.as_dict() for s in ranked])
        return
    for i, s in enumerate(ranked, 1):
        console.print(f"[bold]{i}. {s.playbook}[/] — {s.name}  score {s.score:.3f}")
        for reason in s.reasons:
            console.print(f"     · {reason}")
