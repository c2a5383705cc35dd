"""The `grace` entry point: product commands from `api.cli`; `eval` and `bench` from `evals`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from evals.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_installed_grace_is_the_evals_entry_point() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["grace"] == "evals.cli.main:main"


def test_grace_lists_eval_and_bench_after_db() -> None:
    groups = [info.name for info in app.registered_groups]
    assert groups == [
        "escalations", "knowledge", "workflows", "playbooks", "db", "bench", "eval", "keys",
    ]  # fmt: skip


def test_adding_the_groups_twice_keeps_one_of_each() -> None:
    from evals.cli import main

    main._add_groups()
    assert [info.name for info in app.registered_groups].count("eval") == 1


def test_product_cli_imports_no_evals_module() -> None:
    code = "import sys, api.cli.main; print(sorted(m for m in sys.modules if m[:5] == 'evals'))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
