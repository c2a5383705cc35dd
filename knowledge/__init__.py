"""Atlas knowledge layer: loaders, chunkers, embedders, pgvector store, retriever, ingestion."""
