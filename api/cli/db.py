"""``grace db``: where the data lives, migrations, and the embedded server."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.console import console, handle_errors, print_json
from graphs.core import migrate
from graphs.core.database import embedded_server, ensure_schema, resolve_target
from graphs.core.settings import get_settings

app = typer.Typer(
    help="Database: status, migrations and the embedded server.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


@app.command()
@handle_errors
def status(as_json: JsonOpt = False) -> None:
    """Show where data lives, whether the server runs, the migration level and the LLM."""
    from agents.llm.providers import provider_info

    settings = get_settings()
    target = resolve_target(settings)
    current = migrate.current_revision(target.url)
    head = migrate.head_revision()
    info: dict[str, object] = {
        "database": target.display,
        "embedded": target.embedded,
        "migration": current,
        "latest_migration": head,
        "up_to_date": current == head,
    }
    if target.embedded:
        st = embedded_server(settings).status()
        info.update(
            data_dir=str(st.pgdata),
            running=st.running,
            pid=st.pid,
            socket_dir=str(st.socket_dir) if st.socket_dir else None,
        )
    llm = provider_info(settings)  # never raises, never shows a key
    if as_json:
        print_json({**info, "language_model": llm})
        return
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        table.add_row(f"[bold]{key.replace('_', ' ')}[/]", str(value))
    table.add_row("[bold]language model[/]", escape(str(llm["label"])))
    if "error" in llm:
        table.add_row("[bold]language model error[/]", escape(str(llm["error"])))
    console.print(table)
    if current != head:
        console.print("[yellow]Run `grace db upgrade` to apply pending migrations.[/]")


@app.command()
@handle_errors
def upgrade() -> None:
    """Apply pending schema migrations (also done automatically on first use)."""
    target = resolve_target(get_settings())
    before = migrate.current_revision(target.url)
    ensure_schema(target.url)
    after = migrate.current_revision(target.url)
    if before == after:
        console.print(f"Already at the latest migration ({after}) on {target.display}.")
    else:
        console.print(f"Migrated {target.display}: {before or 'empty'} → [bold]{after}[/]")


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL server (no effect with DATABASE_URL)."""
    settings = get_settings()
    if not settings.uses_embedded_database:
        console.print("DATABASE_URL is set: there is no embedded server to stop.")
        return
    stopped = embedded_server(settings).stop()
    console.print("Embedded server stopped." if stopped else "Embedded server was not running.")
