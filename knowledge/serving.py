"""The retriever every caller uses: chat (through the wiring), ``grace search``, playbook lookups.

One builder, so a search from the CLI, a playbook's ``lookup`` step and Atlas in a chat turn
rank the same passages with the same limits and share the Redis cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphs.core.database import Database
    from graphs.core.settings import Settings
    from knowledge.embedding.base import Embedder
    from knowledge.retriever import Retriever


def build_retriever(settings: Settings, db: Database, embedder: Embedder) -> Retriever:
    """The pgvector retriever: exact search up to ``settings.exact_search_max_rows`` rows.

    Redis-cached when ``REDIS_URL`` is set (invalidated when a collection changes; see
    :func:`knowledge.retrieval_cache.caching_retriever`).

    Args:
        settings: Where the search limits and the cache come from.
        db: The application database (knowledge tables).
        embedder: Embeds queries (the documents' model).

    Returns:
        A :class:`~knowledge.retriever.Retriever` (or the caching wrapper, same interface).
    """
    from knowledge.retrieval_cache import caching_retriever
    from knowledge.retriever import Retriever
    from knowledge.store.pgvector import PgVectorStore

    store = PgVectorStore(db, exact_search_max_rows=settings.exact_search_max_rows)
    return caching_retriever(Retriever(store, embedder), settings, db)
