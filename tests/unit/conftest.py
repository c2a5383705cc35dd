"""Unit tests that check business state in a real database borrow the integration fixtures.

Only the tests that ask for ``db`` (marked ``integration``) start the embedded server.
"""

from tests.integration.conftest import database_url, db, pg_server, template_url

__all__ = ["database_url", "db", "pg_server", "template_url"]
