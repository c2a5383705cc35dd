"""HTTP API (FastAPI) and the ``grace`` command line."""
