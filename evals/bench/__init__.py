"""Benchmarks behind ``grace bench``: each writes a JSON report and a readable table."""
