"""The product commands of the ``grace`` CLI.

The installed ``grace`` entry point is :func:`evals.cli.main.main`, which adds the ``eval`` and
``bench`` groups to this :data:`app`: the product never imports ``evals`` (see
``.importlinter``), so those two groups live with the code they drive.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from api.cli import chat, db, demo, knowledge, playbooks, workflows
from api.cli import keys as keys_cli
from api.cli import serve as serve_cli
from api.cli import worker as worker_cli
from graphs.core.logs import configure_logging

app = typer.Typer(
    name="grace",
    help=(
        "Grace Fields: a supervisor and eight personas for a gallery, wellness center and "
        "consultancy, with workflow enforcement and a RAG knowledge layer.\n\n"
        "Data lives in an embedded PostgreSQL (+pgvector) server in your user data directory "
        "unless DATABASE_URL points elsewhere."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
app.command("demo")(demo.demo)
app.command("chat")(chat.chat)
app.command("ask")(chat.ask)
app.add_typer(chat.escalations_app, name="escalations")
app.command("ingest")(knowledge.ingest)
app.command("search")(knowledge.search)
app.add_typer(knowledge.app, name="knowledge")
app.add_typer(workflows.app, name="workflows")
app.add_typer(playbooks.app, name="playbooks")
app.add_typer(db.app, name="db")
app.command("serve")(serve_cli.serve)
app.add_typer(keys_cli.app, name="keys")
app.command("worker")(worker_cli.worker)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"grace-fields {version('grace-fields')}")
        except PackageNotFoundError:  # running from a source tree without install
            typer.echo("grace-fields (not installed)")
        raise typer.Exit()


@app.callback()
def _root(
    _: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    configure_logging()


def main() -> None:
    """Run :data:`app` (the product commands; ``grace`` itself is :func:`evals.cli.main.main`).

    SIGTERM exits normally (exit code 143), so the embedded database server is released
    (and stopped after the last process, unless ``GRACE_EMBEDDED_KEEP_RUNNING``).
    """
    from graphs.core.embedded import exit_on_sigterm

    exit_on_sigterm()
    app()
