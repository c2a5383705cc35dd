import pytest

from graphs.core.database import redact_url
from graphs.core.embedded import database_uri
from graphs.core.migrate import sqlalchemy_url
from graphs.core.settings import Settings


def test_redact_url_hides_password() -> None:
    url = "postgresql://app:s3cret@db.example.supabase.co:5432/postgres?sslmode=require"
    shown = redact_url(url)
    assert "s3cret" not in shown
    assert shown == "postgresql://app@db.example.supabase.co:5432/postgres"
    assert redact_url("postgresql://postgres:@/grace?host=/tmp/x") == (
        "postgresql://postgres@socket /tmp/x/grace"
    )


def test_database_uri_swaps_only_the_database() -> None:
    assert (
        database_uri("postgresql://postgres:@/postgres?host=/tmp/pg", "grace")
        == "postgresql://postgres:@/grace?host=/tmp/pg"
    )


def test_sqlalchemy_url_uses_psycopg3() -> None:
    assert sqlalchemy_url("postgres://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(ValueError):
        sqlalchemy_url("mysql://u@h/db")


def test_settings_read_conventional_and_prefixed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://a@b/c")
    monkeypatch.setenv("GRACE_DB_POOL_MAX_SIZE", "4")
    s = Settings()
    assert s.database_url is not None
    assert s.database_url.get_secret_value() == "postgresql://a@b/c"
    assert "postgresql://a@b/c" not in repr(s)
    assert s.db_pool_max_size == 4 and not s.uses_embedded_database
    monkeypatch.delenv("DATABASE_URL")
    assert Settings().uses_embedded_database
