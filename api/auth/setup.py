"""Wire the security layer into an app, and refuse to serve with a weak secret.

``grace serve`` calls :func:`check_secret` before starting; the app factory calls
:func:`install_security`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.auth.errors import InsecureSecretError
from api.middleware import BodySizeLimitMiddleware
from api.ratelimit import RateLimiter

if TYPE_CHECKING:
    from fastapi import FastAPI

    from graphs.core.settings import Settings

#: Shortest accepted ``secret_key`` (32 characters; e.g. ``openssl rand -hex 32`` gives 64).
MIN_SECRET_LENGTH = 32

#: Well-known placeholder secrets refused outside dev mode (compared case-insensitively).
KNOWN_DEFAULT_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "secret",
        "secret-key",
        "secret_key",
        "secretkey",
        "dev",
        "development",
        "test",
        "testing",
        "password",
        "default",
        "grace",
        "grace-fields",
        "insecure",
        "your-secret-key",
        "your_secret_key",
        "replace-me",
    }
)


def check_secret(settings: Settings, *, dev: bool) -> None:
    """Refuse a missing or weak ``secret_key`` unless in dev mode.

    Args:
        settings: Gives ``secret_key`` (``GRACE_SECRET_KEY``).
        dev: ``grace serve --dev``: anything goes (keys then use the public dev pepper when
            the secret is unset).

    Raises:
        InsecureSecretError: outside dev mode, when the secret is unset, empty, shorter than
            :data:`MIN_SECRET_LENGTH` characters, a known default (:data:`KNOWN_DEFAULT_SECRETS`,
            also when repeated to reach the length) or a single repeated character.
    """
    if dev:
        return
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    hint = "set GRACE_SECRET_KEY to a random value, e.g. `openssl rand -hex 32` (or use --dev)"
    if not secret.strip():
        raise InsecureSecretError(f"GRACE_SECRET_KEY is not set: {hint}")
    lowered = secret.strip().lower()
    if _is_known_default(lowered):
        raise InsecureSecretError(f"GRACE_SECRET_KEY is a well-known default: {hint}")
    if len(secret) < MIN_SECRET_LENGTH:
        raise InsecureSecretError(
            f"GRACE_SECRET_KEY has {len(secret)} characters, fewer than {MIN_SECRET_LENGTH}: {hint}"
        )
    if len(set(secret)) == 1:
        raise InsecureSecretError(f"GRACE_SECRET_KEY is one repeated character: {hint}")


def _is_known_default(lowered: str) -> bool:
    if lowered in KNOWN_DEFAULT_SECRETS:
        return True
    # "changemechangemechangeme..." padded to length is still a default.
    return any(
        len(lowered) % len(word) == 0 and lowered == word * (len(lowered) // len(word))
        for word in KNOWN_DEFAULT_SECRETS
    )


def install_security(app: FastAPI, settings: Settings, *, dev: bool) -> None:
    """Add the body-size limit and the per-key rate limiter to ``app``.

    Sets ``app.state.rate_limiter`` (:class:`~api.ratelimit.RateLimiter`, read by
    :func:`api.auth.deps.rate_limited` and ``/readyz`` via ``.status()``), ``app.state.dev``
    and adds :class:`~api.middleware.BodySizeLimitMiddleware` with
    ``settings.api_max_body_bytes``. The app's lifespan should ``await
    app.state.rate_limiter.close()`` at shutdown.

    Args:
        app: The FastAPI app (before it starts serving).
        settings: Gives ``api_max_body_bytes``, ``rate_limit`` and ``redis_url``.
        dev: Dev mode (keyless requests are admin).
    """
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.api_max_body_bytes)
    app.state.rate_limiter = RateLimiter(settings)
    app.state.dev = dev
