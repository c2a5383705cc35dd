"""Embedders: turn text into normalized vectors (local sentence-transformers, or OpenAI)."""
