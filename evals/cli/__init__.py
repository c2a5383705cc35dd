"""The ``grace eval`` and ``grace bench`` command groups, and the full ``grace`` entry point."""
