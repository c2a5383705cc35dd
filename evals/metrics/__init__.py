"""Metric functions used by the eval suites (pure functions, no I/O)."""
