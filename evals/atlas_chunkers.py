"""Compare chunkers on the Atlas eval set's **dev** split (never test: tuning reads dev only).

Each configuration ``name:size[:overlap]`` is ingested (seeds + starter corpus) into its own
collection of one scratch database ``grace_eval_atlas`` (dropped at the end) and measured with
:mod:`evals.atlas_measure`; one table row per configuration.

Usage:
    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 .venv/bin/python -m evals.atlas_chunkers \
        sentence:600:100 paragraph:800 structured:800:120
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from evals.atlas_data import load_split
from evals.atlas_measure import breakdown, ingest_corpora, measure

SCRATCH = "grace_eval_atlas"
COLUMNS = ("hit_at_5", "mrr", "recall_at_5", "section_at_5", "hit_at_10")


def parse_config(spec: str) -> dict[str, Any]:
    """``name:size[:overlap]`` → ingest options."""
    name, size, *rest = spec.split(":")
    out: dict[str, Any] = {"chunker": name, "chunk_size": int(size)}
    if rest:
        out["chunk_overlap"] = int(rest[0])
    return out


async def compare(specs: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Ingest and measure every configuration on dev; returns ``{spec: breakdown}``."""
    from evals.runner import drop_scratch, scratch_database
    from graphs.core.database import Database
    from graphs.core.settings import get_settings
    from knowledge.embedding.factory import get_default_embedder
    from knowledge.retriever import Retriever
    from knowledge.store.pgvector import PgVectorStore

    settings = get_settings().model_copy(update={"db_pool_min_size": 1, "db_pool_max_size": 4})
    url, scratch = await scratch_database(settings, SCRATCH)
    db = await Database.connect(settings, url=url)
    results: dict[str, dict[str, dict[str, float]]] = {}
    try:
        embedder = get_default_embedder(settings)
        retriever = Retriever(PgVectorStore(db), embedder)
        questions = load_split("dev")
        for i, spec in enumerate(specs):
            collection = f"atlas-cmp-{i}"
            await ingest_corpora(db, embedder, collection=collection, **parse_config(spec))
            outcomes = await measure(retriever, questions, collection=collection)
            results[spec] = breakdown(outcomes)
            row = results[spec]
            print(
                f"{spec:24s} "
                + " ".join(f"{c}={row['all'][c]:.3f}" for c in COLUMNS)
                + f" para_hit5={row['type:paraphrase']['hit_at_5']:.3f}"
                + f" multi_hit5={row['type:multi_hop']['hit_at_5']:.3f}",
                flush=True,
            )
    finally:
        await db.close()
        if scratch:
            await drop_scratch(url, SCRATCH)
    return results


def main(argv: list[str]) -> None:
    """Run :func:`compare` on the given specs and print the full breakdowns as JSON."""
    specs = argv or ["sentence:600:100"]
    results = asyncio.run(compare(specs))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
