import importlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_points_at_a_graph_factory() -> None:
    spec = json.loads((ROOT / "langgraph.json").read_text())
    target = spec["graphs"]["grace"]
    path, _, attr = target.partition(":")
    module = path.removeprefix("./").removesuffix(".py").replace("/", ".")
    assert callable(getattr(importlib.import_module(module), attr))
    assert spec["dependencies"] == ["."]
