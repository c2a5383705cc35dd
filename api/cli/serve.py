"""``grace serve``: run the HTTP API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.console import err_console
from graphs.core.settings import get_settings

#: Exit code when the server refuses to start (weak secret, bad option combination).
EXIT_REFUSED_TO_START = 2


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default: GRACE_API_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default: GRACE_API_PORT, 8000).")
    ] = None,
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Development mode: requests without an API key act as an admin named 'dev', "
            "and no secret key is required. Never expose it beyond your machine.",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (needs DATABASE_URL when > 1).")
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs).

    Refuses to start (exit 2) without a strong GRACE_SECRET_KEY unless --dev is given.
    """
    import uvicorn

    from api.auth.errors import InsecureSecretError
    from api.auth.setup import check_secret
    from graphs.core.logs import uvicorn_log_config

    settings = get_settings()
    try:
        check_secret(settings, dev=dev)
    except InsecureSecretError as exc:
        err_console.print(f"[bold red]Refusing to start:[/] {exc}")
        raise typer.Exit(EXIT_REFUSED_TO_START) from None
    if workers > 1 and (dev or settings.uses_embedded_database):
        err_console.print(
            "[bold red]Refusing to start:[/] --workers > 1 needs DATABASE_URL (a shared "
            "PostgreSQL server) and cannot be combined with --dev; run one worker instead."
        )
        raise typer.Exit(EXIT_REFUSED_TO_START)
    host = host or settings.api_host
    port = port or settings.api_port
    url = f"http://{host}:{port}"
    err_console.print(f"Grace Fields API on [bold]{url}[/] (docs: {url}/docs)")
    if dev:
        err_console.print(
            "[yellow]Dev mode:[/] requests without an API key are treated as an admin."
        )
    log_level = settings.log_level.lower()
    if workers > 1:
        uvicorn.run(
            "api.app:create_app", factory=True, host=host, port=port, workers=workers,
            log_level=log_level, log_config=uvicorn_log_config(),
        )  # fmt: skip
        return
    from api.app import create_app

    uvicorn.run(
        create_app(settings, dev=dev), host=host, port=port, log_level=log_level,
        log_config=uvicorn_log_config(settings),
    )  # fmt: skip
