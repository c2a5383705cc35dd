"""Logs after a failure: no local variables, no configured secrets, bounded tracebacks."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.errors import install_error_handlers
from graphs.core.logs import (
    MAX_TRACEBACK_FRAMES,
    REDACTED,
    configure_logging,
    configured_secrets,
    uvicorn_log_config,
)
from graphs.core.settings import Settings

WEBHOOK_SECRET = "whsec-3f9a1c77e2b04d5a"
API_KEY = "sk-live-8c1d2e3f4a5b6c7d"
DB_PASSWORD = "pg-pass-71c2a9"
#: A traceback through 20 frames renders in well under this many lines without locals; with
#: locals (the old default) one failure printed thousands.
MAX_LINES = 250


def _settings(fmt: str) -> Settings:
    return Settings(
        log_level="INFO",
        log_format=fmt,  # type: ignore[arg-type]
        openai_api_key=SecretStr(API_KEY),
        webhook_secrets={"payments": [SecretStr(WEBHOOK_SECRET)]},
        database_url=SecretStr(f"postgresql://grace:{DB_PASSWORD}@db.example/grace"),
    )


@pytest.fixture(params=["console", "json"])
def log_format(request: pytest.FixtureRequest) -> Iterator[str]:
    configure_logging(_settings(request.param))
    yield str(request.param)
    configure_logging(Settings(log_level="WARNING"))


def _verify_webhook(body: bytes) -> None:
    secret = WEBHOOK_SECRET  # a local the old console traceback printed in clear
    api_key = API_KEY
    if body and secret and api_key:
        raise RuntimeError("signature check crashed")


def _deep(n: int) -> None:
    secret = WEBHOOK_SECRET
    if n == 0:
        raise RuntimeError(f"bottom reached ({len(secret)})")
    _deep(n - 1)


def _assert_clean(out: str) -> None:
    for value in (WEBHOOK_SECRET, API_KEY, DB_PASSWORD):
        assert value not in out
    assert len(out.splitlines()) < MAX_LINES, len(out.splitlines())


def test_structlog_error_has_no_locals(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        _verify_webhook(b"{}")
    except RuntimeError:
        structlog.get_logger("t").error("webhook.failed", exc_info=True)
    out = capsys.readouterr().err
    assert "signature check crashed" in out and "_verify_webhook" in out
    _assert_clean(out)


def test_deep_traceback_is_bounded(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        _deep(200)
    except RuntimeError:
        structlog.get_logger("t").exception("deep.failed")
    out = capsys.readouterr().err
    assert "bottom reached" in out
    frames = out.count(" in _deep") + out.count('"name": "_deep"')
    assert 0 < frames <= MAX_TRACEBACK_FRAMES
    _assert_clean(out)


def test_secret_in_exception_message_is_redacted(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ConnectionError(f"could not connect with password {DB_PASSWORD}, key {API_KEY}")
    except ConnectionError:
        structlog.get_logger("t").error("db.down", exc_info=True, hint=WEBHOOK_SECRET)
    out = capsys.readouterr().err
    assert REDACTED in out and "could not connect" in out
    _assert_clean(out)


def test_stdlib_and_uvicorn_loggers_go_through_the_same_rendering(
    log_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(uvicorn_log_config(_settings(log_format)))
    assert not logging.getLogger("uvicorn.error").handlers
    try:
        _verify_webhook(b"{}")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    out = capsys.readouterr().err
    assert "Exception in ASGI application" in out and "signature check crashed" in out
    _assert_clean(out)


def test_api_500_logs_no_secret(log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/hook")
    async def hook() -> dict[str, str]:
        _verify_webhook(b"payload")
        return {}

    with TestClient(app, raise_server_exceptions=False) as client:
        res = client.post("/hook", headers={"Authorization": f"Bearer {API_KEY}"})
    assert res.status_code == 500
    assert res.headers["content-type"].startswith("application/problem+json")
    out = capsys.readouterr().err
    assert "api.unhandled_error" in out and "signature check crashed" in out
    _assert_clean(out)


def test_configured_secrets_lists_keys_webhooks_and_url_passwords() -> None:
    found = configured_secrets(_settings("json"))
    assert {WEBHOOK_SECRET, API_KEY, DB_PASSWORD} <= set(found)
    assert configured_secrets(Settings()) == []
