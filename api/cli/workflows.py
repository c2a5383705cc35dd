"""``grace workflows``: inspect the 14 workflows, start instances, fire events, read history."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.console import console, handle_errors, print_json, run_async
from graphs.core.database import Database
from graphs.workflows.catalog import default_catalog
from graphs.workflows.diagram import mermaid
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import InvalidPayloadError
from graphs.workflows.model import OWNERS

app = typer.Typer(
    help="The operational workflows: definitions, instances, events and audit history.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
WorkflowArg = Annotated[str, typer.Argument(help="Workflow id, e.g. WF-WELL-BOOK.")]

_OWNER_STYLE = {"human": "bold magenta", "system": "cyan"}


def _owner(owner: str) -> str:
    style = _OWNER_STYLE.get(owner, "green")
    return f"[{style}]{owner}[/]"


def _parse_json(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidPayloadError(f"{what} is not valid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise InvalidPayloadError(f"{what} must be a JSON object")
    return value


@app.command("list")
@handle_errors
def list_workflows(as_json: JsonOpt = False) -> None:
    """List every workflow with its states, transitions and owners."""
    catalog = default_catalog()
    if as_json:
        print_json(
            [
                {
                    "id": wf.id,
                    "name": wf.name,
                    "domain": wf.domain,
                    "states": len(wf.states),
                    "transitions": len(wf.transitions),
                    "owners": dict(Counter(t.owner for t in wf.transitions)),
                }
                for wf in catalog
            ]
        )
        return
    table = Table(title=f"{len(catalog)} workflows", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("name")
    table.add_column("domain")
    table.add_column("states", justify="right")
    table.add_column("transitions", justify="right")
    table.add_column("owners (transitions each)")
    total = 0
    for wf in catalog:
        owners = Counter(t.owner for t in wf.transitions)
        total += len(wf.transitions)
        table.add_row(
            f"[bold]{wf.id}[/]",
            wf.name,
            wf.domain,
            str(len(wf.states)),
            str(len(wf.transitions)),
            " ".join(f"{_owner(o)}:{n}" for o, n in owners.most_common()),
        )
    console.print(table)
    console.print(f"{total} transitions in all; owners: {', '.join(OWNERS)}")


@app.command()
@handle_errors
def show(workflow: WorkflowArg, as_json: JsonOpt = False) -> None:
    """Show one workflow: description, states and every transition with its owner."""
    wf = default_catalog().get(workflow)
    if as_json:
        print_json(wf.model_dump(by_alias=True))
        return
    console.print(f"[bold]{wf.id}[/] — {wf.name} ([italic]{wf.domain}[/], subject: {wf.subject})")
    console.print(wf.description)
    finals = ", ".join(sorted(wf.terminal_states)) or "none (cyclic)"
    console.print(f"initial state: [bold]{wf.initial_state}[/]   final states: {finals}\n")
    table = Table()
    for col in ("from", "event", "to", "owner"):
        table.add_column(col)
    for t in wf.transitions:
        table.add_row(t.from_state, f"[bold]{t.event}[/]", t.to_state, _owner(t.owner))
    console.print(table)


@app.command()
@handle_errors
def diagram(
    workflow: WorkflowArg,
    current: Annotated[str | None, typer.Option(help="Highlight this state.")] = None,
) -> None:
    """Print a Mermaid state diagram (paste into any Mermaid renderer)."""
    typer.echo(mermaid(default_catalog().get(workflow), current=current), nl=False)


@app.command()
@handle_errors
def start(
    workflow: WorkflowArg,
    subject: Annotated[
        str, typer.Option(help="Business subject as TYPE:ID (e.g. booking:B-1042) or ID.")
    ],
    actor: Annotated[str, typer.Option("--as", help="Who starts it.")] = "system",
    data: Annotated[str | None, typer.Option(help="JSON object kept with the instance.")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Repeat-safe key: a second start returns the first.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start an instance of a workflow in its initial state."""
    body = _parse_json(data, "--data")

    async def go() -> Any:
        async with await Database.connect() as db:
            return await WorkflowEngine(db).start(
                workflow, subject, actor=actor, data=body, idempotency_key=idempotency_key
            )

    inst = run_async(go)
    if as_json:
        print_json(inst.to_dict())
        return
    console.print(
        f"Started [bold]{inst.workflow_id}[/] for {inst.subject}: instance [bold]{inst.id}[/] "
        f"in state [bold]{inst.state}[/]"
    )


@app.command()
@handle_errors
def fire(
    instance: Annotated[str, typer.Argument(help="Instance id.")],
    event: Annotated[str, typer.Argument(help="Event name, e.g. consultation_scheduled.")],
    actor: Annotated[
        str, typer.Option("--as", help="Actor: a persona (nyra…atlas), system, or human[:NAME].")
    ],
    payload: Annotated[str | None, typer.Option(help="JSON object stored in the audit.")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Repeat-safe key: a retry returns the first result.")
    ] = None,
    expected_version: Annotated[
        int | None, typer.Option(help="Refuse unless the instance is at this version.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fire an event on an instance, as its owner. Refusals exit with code 1."""
    body = _parse_json(payload, "--payload")

    async def go() -> Any:
        async with await Database.connect() as db:
            return await WorkflowEngine(db).apply(
                instance,
                event,
                actor,
                idempotency_key,
                body,
                expected_version=expected_version,
            )

    res = run_async(go)
    if as_json:
        print_json(res.to_dict())
        return
    note = " [dim](replayed: nothing written)[/]" if res.replayed else ""
    console.print(
        f"[green]✓[/] {res.event} by {res.actor}: {res.from_state} → [bold]{res.to_state}[/] "
        f"(version {res.version}){note}"
    )


@app.command()
@handle_errors
def history(
    instance: Annotated[str, typer.Argument(help="Instance id.")], as_json: JsonOpt = False
) -> None:
    """Show an instance's full audit history, oldest first."""

    async def go() -> Any:
        async with await Database.connect() as db:
            engine = WorkflowEngine(db)
            return await engine.get(instance), await engine.history(instance)

    inst, rows = run_async(go)
    if as_json:
        print_json({"instance": inst.to_dict(), "history": [r.to_dict() for r in rows]})
        return
    console.print(
        f"[bold]{inst.workflow_id}[/] {inst.subject} — now [bold]{inst.state}[/] "
        f"(version {inst.version})"
    )
    table = Table()
    for col in ("v", "time (UTC)", "event", "actor", "from", "to", "payload"):
        table.add_column(col, no_wrap=col in ("event", "time (UTC)"))
    for r in rows:
        table.add_row(
            str(r.version),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"[bold]{r.event}[/]",
            r.actor,
            r.from_state or "—",
            r.to_state,
            json.dumps(r.payload) if r.payload else "",
        )
    console.print(table)
    nxt = default_catalog().get(inst.workflow_id).outgoing(inst.state)
    if nxt:
        console.print(
            "next: " + ", ".join(f"{t.event} ({_owner(t.owner)})" for t in nxt), highlight=False
        )


@app.command()
@handle_errors
def instances(
    workflow: Annotated[str | None, typer.Option(help="Only this workflow.")] = None,
    state: Annotated[str | None, typer.Option(help="Only instances in this state.")] = None,
    subject: Annotated[str | None, typer.Option(help="TYPE:ID, or a bare ID.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List instances, newest first, filtered by workflow, state and/or subject."""

    async def go() -> Any:
        async with await Database.connect() as db:
            return await WorkflowEngine(db).find(
                workflow_id=workflow, state=state, subject=subject, limit=limit
            )

    rows = run_async(go)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table = Table(title=f"{len(rows)} instance(s)", title_justify="left")
    for col in ("id", "workflow", "subject", "state", "v", "updated (UTC)"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r.id),
            r.workflow_id,
            str(r.subject),
            r.state,
            str(r.version),
            r.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)
