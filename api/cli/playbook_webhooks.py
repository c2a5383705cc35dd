"""``grace playbooks webhooks add | list | remove``: the outbound endpoints of playbook runs.

The same registry as ``/v1/playbook-webhooks`` (:class:`~graphs.playbooks.webhooks.
WebhookEndpoints`, table ``playbook_webhooks``): each registered URL receives the run events
it subscribes to, signed with the Standard Webhooks scheme. ``add`` prints the signing secret
once; ``list`` never shows secrets; ``remove`` deactivates an endpoint. Every command takes
``--json``; a bad URL, an unknown event type or an unknown endpoint id is refused with exit
code 1.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import typer
from rich.table import Table

from api.cli.console import console, handle_errors, print_json, run_async
from api.cli.playbook_support import refuse
from graphs.core.database import Database
from graphs.playbooks.webhooks import EVENT_TYPES, WebhookEndpoints

app = typer.Typer(
    help="Outbound webhooks of playbook runs (Standard Webhooks signatures).",
    no_args_is_help=True,
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
_EVENT_HELP = f"Event type (repeatable; default all): {', '.join(EVENT_TYPES)}."


def _with_endpoints(fn: Any) -> Any:
    """Run ``fn(endpoints)`` on the configured database."""

    async def go() -> Any:
        async with await Database.connect() as db:
            return await fn(WebhookEndpoints(db))

    return run_async(go)


@app.command()
@handle_errors
def add(
    url: Annotated[str, typer.Argument(help="Where to POST events (http or https).")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help=_EVENT_HELP),
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Signing secret whsec_… (default: a new random one).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an endpoint; prints its signing secret once."""
    events = list(event or EVENT_TYPES)
    try:
        row = _with_endpoints(lambda ep: ep.add(url, events, secret))
    except ValueError as exc:
        raise refuse(str(exc)) from None
    if as_json:
        print_json(row)
        return
    console.print(f"[green]✓[/] endpoint [bold]{row['id']}[/] → {row['url']}")
    console.print(f"  events: {', '.join(row['events'])}")
    console.print(f"  secret (shown once): {row['secret']}", highlight=False, soft_wrap=True)


@app.command("list")
@handle_errors
def list_endpoints(as_json: JsonOpt = False) -> None:
    """The active endpoints (secrets are never shown again)."""
    rows = _with_endpoints(lambda ep: ep.active())
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no webhook endpoints; add one with: grace playbooks webhooks add URL")
        return
    table = Table(title=f"{len(rows)} webhook endpoint(s)", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("url", no_wrap=True)
    table.add_column("events", overflow="fold")
    table.add_column("created")
    for r in rows:
        events = "all" if set(r["events"]) == set(EVENT_TYPES) else ", ".join(r["events"])
        table.add_row(str(r["id"]), r["url"], events, f"{r['created_at']:%Y-%m-%d %H:%M}")
    console.print(table)


@app.command()
@handle_errors
def remove(
    endpoint_id: Annotated[str, typer.Argument(help="The endpoint id (from list).")],
    as_json: JsonOpt = False,
) -> None:
    """Stop delivering to an endpoint."""
    try:
        uid = UUID(endpoint_id)
    except ValueError:
        raise refuse(f"{endpoint_id!r} is not an endpoint id (a UUID from list)") from None
    if not _with_endpoints(lambda ep: ep.remove(uid)):
        raise refuse(f"no active webhook endpoint {uid}")
    if as_json:
        print_json({"id": str(uid), "removed": True})
    else:
        console.print(f"removed webhook endpoint {uid}")
