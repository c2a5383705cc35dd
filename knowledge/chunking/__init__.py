"""Chunkers: split a ``SourceDocument`` into ``Chunk``s with exact character offsets."""
