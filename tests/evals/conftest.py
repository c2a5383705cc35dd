"""The integration fixtures (embedded PostgreSQL, fresh database per test) for eval tests."""

from tests.integration.conftest import database_url, pg_server, template_url

__all__ = ["database_url", "pg_server", "template_url"]
