"""The ``grace`` command line (typer + rich)."""
