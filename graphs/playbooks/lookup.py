"""The ``lookup`` step's default backend: Atlas's retriever over the pgvector knowledge store."""

from __future__ import annotations

from typing import Any

from graphs.core.database import Database
from graphs.core.settings import Settings
from graphs.playbooks.steps import Lookup


def knowledge_lookup(
    db: Database, *, k: int = 3, embedder: Any = None, settings: Settings | None = None
) -> Lookup:
    """A lookup that returns the top ``k`` served passages for a query, with citations.

    The embedder is loaded on the first lookup (the default model takes seconds to load), so
    runs without a ``lookup`` step never pay for it.

    Args:
        db: The application database (knowledge tables).
        k: Passages per lookup.
        embedder: An :class:`~knowledge.embedding.base.Embedder`; the configured default when
            None.
        settings: Search limits and cache (:func:`knowledge.serving.build_retriever`); the
            process's settings when None.
    """
    state: dict[str, Any] = {}

    async def lookup(query: str) -> list[dict[str, Any]]:
        if "retriever" not in state:
            from graphs.core.settings import get_settings
            from knowledge.embedding.factory import get_default_embedder
            from knowledge.serving import build_retriever

            cfg = settings or get_settings()
            state["retriever"] = build_retriever(cfg, db, embedder or get_default_embedder(cfg))
        passages = await state["retriever"].retrieve(query, k=k)
        return [
            {
                "text": p.text[:400],
                "citation": p.citation.label(),
                "similarity": round(p.similarity, 3),
            }
            for p in passages
        ]

    return lookup
