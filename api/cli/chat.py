"""``grace ask``, ``grace chat``, ``grace escalations``: talk to the personas, resolve level 4."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from api.cli.console import console, err_console, handle_errors, print_json, run_async

escalations_app = typer.Typer(
    help="Level-4 escalations: conversations waiting for a person.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
PersonaOpt = Annotated[
    str | None,
    typer.Option(
        "--persona", "-p", "--agent", "-a",
        help="Talk to this persona directly (e.g. solari); --agent is its older name.",
    ),
]  # fmt: skip
ThreadOpt = Annotated[
    str | None, typer.Option("--thread", "-t", help="Continue this conversation.")
]
_LEVEL_STYLE = {1: "green", 2: "cyan", 3: "yellow", 4: "bold red"}


def render_turn(turn: Any) -> None:
    """Show one turn: who answered, the level, the reply, actions, refusals and citations."""
    from rich.markdown import Markdown  # here: ``grace ask --json`` never loads markdown-it

    who = (turn.persona or "grace").capitalize()
    style = _LEVEL_STYLE.get(turn.level, "white")
    title = f"[bold]{who}[/] · [{style}]level {turn.level}[/] · thread {turn.thread_id}"
    if turn.escalation is not None:
        esc = turn.escalation
        body = (
            f"[bold red]Waiting for a person.[/] {esc.summary}\n\n"
            f"Resolve with: [bold]grace escalations resolve {esc.id} --approve[/] "
            "(or --reject) [--note …]"
        )
        console.print(Panel(body, title=title, title_align="left", border_style="red"))
    else:
        console.print(
            Panel(
                Markdown(turn.reply or "_(no reply)_"),
                title=title,
                title_align="left",
                border_style=style,
            )
        )
    if turn.reasons:
        console.print("[dim]why this level: " + "; ".join(turn.reasons) + "[/]")
    for a in turn.actions:
        verb = "opened" if a["event"] == "start" else a["event"]
        console.print(
            f"  [green]✓ {verb}[/] {a['workflow_id']} {a['instance_id'][:8]}: "
            f"{a['from_state'] or '∅'} → {a['to_state']} [dim](by {a['actor']})[/]"
        )
    for r in turn.refusals:
        console.print(f"  [red]✗ {r['event']}[/] ({r['code']}): {r['message']}")
    seen: set[tuple[str, str]] = set()
    for c in shown_citations(turn.citations):
        key = (c["label"], c["source"])  # several chunks of one section read the same
        if key in seen:
            continue
        seen.add(key)
        console.print(f"  [cyan]source[/] {c['label']} [dim]{c['source']}[/]")


def shown_citations(citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A CLI turn's citations as a client sees them: heading label and logical source.

    CLI turns are client conversations (``audience="client"``), so they print and serialise
    sources the way the API shows them to a client key (:mod:`knowledge.citations`).
    """
    from graphs.core.settings import get_settings
    from knowledge.citations import present_citations, roots_of

    return present_citations(citations, "client", roots_of(get_settings()))


async def _open(show_status: bool = True) -> Any:
    from graphs.runtime import GraceRuntime

    if show_status:
        with err_console.status("Starting Grace Fields (database, models)…"):
            return await GraceRuntime.open()
    return await GraceRuntime.open()


@handle_errors
def ask(
    message: Annotated[str, typer.Argument(help="What to say.")],
    persona: PersonaOpt = None,
    thread: ThreadOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send one message and print the reply (use --thread to continue a conversation)."""
    from graphs.runtime import ThreadBusyError

    async def go() -> Any:
        rt = await _open(show_status=not as_json)
        try:
            return await rt.ask(message, thread_id=thread, persona=persona)
        finally:
            await rt.close()

    try:
        turn = run_async(go)
    except ThreadBusyError as exc:
        err_console.print(f"[bold red]Busy:[/] {exc}")
        raise typer.Exit(1) from None
    except LookupError as exc:  # unknown persona
        err_console.print(f"[bold red]Unknown persona:[/] {exc}")
        raise typer.Exit(2) from None
    if as_json:
        data = turn.to_dict()
        print_json({**data, "citations": shown_citations(data.get("citations") or [])})
        return
    render_turn(turn)


HELP = (
    "[dim]Commands: /persona NAME (talk to a persona; /persona off for routing), "
    "/thread (show id), /new (new conversation), /quit[/]"
)


@handle_errors
def chat(persona: PersonaOpt = None, thread: ThreadOpt = None) -> None:
    """Chat interactively: every turn shows who answers, the level, actions and sources."""
    import asyncio

    from graphs.runtime import ThreadBusyError

    async def loop() -> None:
        rt = await _open()
        state = {"persona": persona, "thread": thread}
        console.print(Panel.fit("Grace Fields — type a message. " + HELP, border_style="cyan"))
        try:
            while True:
                line = (await asyncio.to_thread(console.input, "[bold]you >[/] ")).strip()
                if not line:
                    continue
                if line in ("/quit", "/exit", "/q"):
                    return
                if line == "/new":
                    state["thread"] = None
                    console.print("[dim]New conversation.[/]")
                    continue
                if line == "/thread":
                    console.print(f"[dim]thread: {state['thread'] or '(none yet)'}[/]")
                    continue
                if line.startswith(("/persona", "/agent")):  # /agent: its older name
                    name = line.partition(" ")[2].strip() or None
                    state["persona"] = None if name in (None, "off", "grace") else name
                    console.print(f"[dim]talking to: {state['persona'] or 'Grace (routing)'}[/]")
                    continue
                try:
                    turn = await rt.ask(line, thread_id=state["thread"], persona=state["persona"])
                except ThreadBusyError as exc:
                    console.print(f"[red]{exc}[/]")
                    continue
                except LookupError as exc:
                    console.print(f"[red]{exc}[/]")
                    state["persona"] = None
                    continue
                state["thread"] = turn.thread_id
                render_turn(turn)
        except (EOFError, KeyboardInterrupt):
            console.print()
        finally:
            await rt.close()

    run_async(loop)


@escalations_app.command("list")
@handle_errors
def list_escalations(
    status: Annotated[str, typer.Option(help="pending, approved, rejected or all.")] = "pending",
    as_json: JsonOpt = False,
) -> None:
    """List escalations (pending first)."""
    from graphs.core.database import Database
    from graphs.escalation_store import EscalationRepository

    async def go() -> Any:
        async with await Database.connect() as db:
            return await EscalationRepository(db).list(status=None if status == "all" else status)

    rows = run_async(go)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table = Table(title=f"{len(rows)} escalation(s)", title_justify="left")
    for col in ("id", "status", "kind", "persona", "thread", "summary"):
        table.add_column(col, no_wrap=col in ("id", "status"))
    for r in rows:
        table.add_row(str(r.id), r.status, r.kind, r.persona or "—", r.thread_id, r.summary)
    console.print(table)


@escalations_app.command()
@handle_errors
def show(
    escalation: Annotated[str, typer.Argument(help="Escalation id.")], as_json: JsonOpt = False
) -> None:
    """Show one escalation with its reasons."""
    from graphs.core.database import Database
    from graphs.escalation_store import EscalationRepository

    async def go() -> Any:
        async with await Database.connect() as db:
            return await EscalationRepository(db).get(escalation)

    try:
        row = run_async(go)
    except LookupError as exc:
        err_console.print(f"[bold red]Not found:[/] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        print_json(row.to_dict())
        return
    for key, value in row.to_dict().items():
        console.print(f"[bold]{key}[/]: {value}")


@escalations_app.command()
@handle_errors
def resolve(
    escalation: Annotated[str, typer.Argument(help="Escalation id.")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="The decision.")],
    note: Annotated[str | None, typer.Option(help="Message or reason, kept in the audit.")] = None,
    by: Annotated[str, typer.Option(help="Who decides (recorded as human:NAME).")] = "staff",
    as_json: JsonOpt = False,
) -> None:
    """Decide an escalation; the paused conversation resumes and its reply is shown."""
    from graphs.escalation_store import EscalationAlreadyResolvedError

    async def go() -> Any:
        rt = await _open(show_status=not as_json)
        try:
            return await rt.resolve(escalation, approve=approve, note=note, by=by)
        finally:
            await rt.close()

    try:
        turn = run_async(go)
    except (LookupError, EscalationAlreadyResolvedError) as exc:
        err_console.print(f"[bold red]Cannot resolve:[/] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        print_json(turn.to_dict())
        return
    render_turn(turn)
