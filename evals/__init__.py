"""Offline eval suites and benchmarks; they use the product, never the reverse."""
