"""Entry point of the installed ``grace`` command: the product CLI plus ``eval`` and ``bench``.

``pyproject.toml`` points ``grace`` here. The product commands are defined in
:mod:`api.cli.main`, which must not import ``evals`` (the import contract in ``.importlinter``);
this module adds the two groups that drive the eval suites and the benchmarks to that same
Typer app, in the place they always had in ``grace --help`` (right after ``db``).
"""

from __future__ import annotations

from typer.models import TyperInfo

from api.cli import main as product
from evals.cli import bench
from evals.cli import eval as eval_cli

#: The full ``grace`` app (the product's app with ``bench`` and ``eval`` added).
app = product.app

#: The product group after which ``bench`` and ``eval`` are listed in ``grace --help``.
_AFTER = "db"


def _add_groups() -> None:
    """Register ``bench`` and ``eval`` after :data:`_AFTER` (once, however often imported)."""
    names = [info.name for info in app.registered_groups]
    if "eval" in names:
        return
    at = names.index(_AFTER) + 1 if _AFTER in names else len(names)
    app.registered_groups[at:at] = [
        TyperInfo(bench.app, name="bench"),
        TyperInfo(eval_cli.app, name="eval"),
    ]


_add_groups()


def main() -> None:
    """Run the ``grace`` CLI (SIGTERM exits with code 143, as in :func:`api.cli.main.main`)."""
    product.main()
