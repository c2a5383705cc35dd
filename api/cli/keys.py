"""``grace keys``: create, list and revoke API keys (hashed at rest, shown once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from api.auth.errors import InsecureSecretError, InvalidKeyNameError, KeyNotFoundError
from api.auth.keys import ApiKeyStore
from api.auth.principal import Role
from api.cli.console import (
    EXIT_REFUSED,
    console,
    err_console,
    handle_errors,
    print_json,
    run_async,
)
from graphs.core.database import Database
from graphs.core.settings import get_settings

app = typer.Typer(
    help=(
        "API keys for the HTTP API. Roles: client (chat, own threads), staff (+ resolve "
        "escalations, human-owned transitions), admin (+ ingest, everything). Needs "
        "GRACE_SECRET_KEY (the pepper keys are hashed with), or --dev."
    ),
    no_args_is_help=True,
)

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DevOpt = Annotated[
    bool,
    typer.Option(
        "--dev",
        help="Allow the public dev pepper when GRACE_SECRET_KEY is unset (local testing only; "
        "matches `grace serve --dev`).",
    ),
]


def _with_store(dev: bool, action: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    """Open the database, run ``action`` with a key store, close; typed errors → exit 1."""

    async def go() -> T:
        settings = get_settings()
        async with await Database.connect(settings) as db:
            return await action(ApiKeyStore(db, settings, dev=dev))

    try:
        return run_async(go)
    except (InsecureSecretError, InvalidKeyNameError, KeyNotFoundError) as exc:
        err_console.print(f"[bold red]Refused:[/] {exc}")
        raise typer.Exit(EXIT_REFUSED) from None


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. booking-form.")],
    role: Annotated[Role, typer.Option("--role", "-r", help="What the key may do.")] = Role.CLIENT,
    as_json: JsonOpt = False,
    dev: DevOpt = False,
) -> None:
    """Create a key and print it once: it is stored only as a hash and cannot be shown again."""
    record, plaintext = _with_store(dev, lambda store: store.create(name, role))
    if as_json:
        print_json({**record.to_dict(), "key": plaintext})
        return
    console.print(f"Created [bold]{record.role}[/] key [bold]{record.name}[/] ({record.prefix}):")
    console.print(plaintext, markup=False, highlight=False, soft_wrap=True)
    err_console.print(
        "[yellow]Store this key now: it is shown only once (only its hash is kept).[/] "
        "Send it as 'Authorization: Bearer <key>'."
    )


@app.command("list")
@handle_errors
def list_keys(
    as_json: JsonOpt = False,
    active: Annotated[bool, typer.Option("--active", help="Hide revoked keys.")] = False,
    dev: DevOpt = False,
) -> None:
    """List keys (never their secrets): prefix, name, role, created, last used, revoked."""
    records = _with_store(dev, lambda store: store.list(include_revoked=not active))
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table = Table(title=f"{len(records)} API keys", title_justify="left")
    for column in ("prefix", "name", "role", "created", "last used", "revoked", "id"):
        table.add_column(column, no_wrap=column in ("prefix", "id"))
    for r in records:
        table.add_row(
            f"[bold]{r.prefix}[/]",
            r.name,
            r.role.value,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "-",
            f"[red]{r.revoked_at:%Y-%m-%d %H:%M}[/]" if r.revoked_at else "-",
            f"[dim]{r.id}[/]",
        )
    console.print(table)


@app.command("revoke")
@handle_errors
def revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix (as `grace keys list`).")],
    as_json: JsonOpt = False,
    dev: DevOpt = False,
) -> None:
    """Revoke a key: it stops authenticating immediately."""
    record = _with_store(dev, lambda store: store.revoke(key))
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"Revoked key [bold]{record.prefix}[/] ({record.name}, {record.role}).")
