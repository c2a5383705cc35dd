"""The import contract in ``.importlinter`` holds (the same check ``.ci/run`` runs).

Layers, top to bottom: ``api``/CLI → supervisor (``graphs``) → ``agents`` → ``knowledge`` →
``graphs.workflows`` → ``graphs.core``; no product package imports ``evals``; every ``graphs``
module has a declared layer. A failure names the offending import chain in the captured output.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest
from importlinter import cli

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"


def test_every_contract_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(os.fspath(ROOT))
    code = cli.lint_imports(config_filename=os.fspath(CONFIG), no_cache=True, no_logo=True)
    assert code == cli.EXIT_STATUS_SUCCESS


def test_every_graphs_child_is_placed_in_both_layer_contracts() -> None:
    config = configparser.ConfigParser()
    config.read(CONFIG)
    children = {
        p.stem if p.is_file() else p.name
        for p in (ROOT / "graphs").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    layers = config["importlinter:contract:layers"]["layers"].split()
    supervisor = {m.removeprefix("graphs.") for m in layers if m.startswith("graphs.")}
    supervisor -= {"core", "workflows"}
    assert children - {"core", "workflows"} == supervisor
