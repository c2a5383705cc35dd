"""Vector stores: the ``VectorStore`` protocol, pgvector (production) and in-memory (reference)."""
