"""A start on an existing data dir loads one encoder and neither PyTorch nor scikit-learn.

The first process exports the ONNX model (PyTorch, once) and fits the router (scikit-learn,
once, then cached in ``<data_dir>/models``); every later process only loads those files. Runs
real processes against the test database, one offline turn each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TURN = """
import asyncio, json, sys
from graphs.runtime import GraceRuntime

async def main():
    rt = await GraceRuntime.open(model=None)
    try:
        result = await rt.ask("What is your cancellation policy?")
    finally:
        await rt.close()
    encoder = rt.deps.router.models.embedder
    print(json.dumps({
        "persona": result.persona,
        "torch": "torch" in sys.modules,
        "sklearn": "sklearn" in sys.modules,
        "sentence_transformers": "sentence_transformers" in sys.modules,
        "shared_encoder": encoder is rt.deps.retriever.embedder.inner,
    }))

asyncio.run(main())
"""


def _turn(database_url: str, data_dir: Path) -> dict[str, object]:
    env = {**os.environ, "DATABASE_URL": database_url, "GRACE_DATA_DIR": str(data_dir)}
    env.update(HF_HUB_OFFLINE="1", GRACE_LLM_PROVIDER="offline")
    env.pop("REDIS_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", TURN], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_second_start_imports_no_torch_and_shares_one_encoder(
    database_url: str, tmp_path: Path
) -> None:
    first = _turn(database_url, tmp_path)  # exports the ONNX file, fits and caches the router
    assert list(tmp_path.glob("models/*.onnx")) and list(tmp_path.glob("models/triage-*.pkl"))
    again = _turn(database_url, tmp_path)
    assert again["persona"] == first["persona"]
    assert again["shared_encoder"] is True  # routing and retrieval: one model in memory
    assert again["torch"] is False and again["sentence_transformers"] is False
    assert again["sklearn"] is False
