"""Loaders: read Markdown, text, HTML and PDF files (or whole folders) into ``SourceDocument``s."""
