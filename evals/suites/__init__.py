"""Eval suites: one module per suite, each with ``NAME`` and ``run(ctx)``."""
