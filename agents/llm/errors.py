"""Typed errors of the LLM provider layer.

Provider SDKs (``openai``, ``anthropic``) raise their own exception trees; the chat models made
by :func:`agents.llm.providers.make_chat_model` translate them into the classes below, so callers
handle one hierarchy whatever the provider. This module imports nothing heavy.
"""

from __future__ import annotations

from types import ModuleType


class LLMError(RuntimeError):
    """Base class of every error raised by the LLM provider layer.

    Attributes:
        provider: ``openai``, ``anthropic`` or ``None`` when no single provider is concerned.
    """

    def __init__(self, message: str, *, provider: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderConfigurationError(LLMError):
    """The settings ask for a provider that cannot be built (e.g. its API key is missing)."""


class ProviderAuthenticationError(LLMError):
    """The provider rejected the credentials (HTTP 401) or the permission (HTTP 403)."""


class ProviderRequestError(LLMError):
    """The provider refused the request itself (HTTP 400, 404, 422...): retrying will not help.

    Attributes:
        status_code: The HTTP status, when there was one.
    """

    def __init__(
        self, message: str, *, provider: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.status_code = status_code


class ProviderUnavailableError(LLMError):
    """Transient failure after the SDK's own retries: timeout, connection, HTTP 408/409/5xx.

    This is the error the fallback chain catches to try the other provider.

    Attributes:
        status_code: The HTTP status, when there was one.
    """

    def __init__(
        self, message: str, *, provider: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, provider=provider)
        self.status_code = status_code


class ProviderTimeoutError(ProviderUnavailableError):
    """The request ran past ``llm_timeout_s`` (on every retry)."""


class ProviderRateLimitError(ProviderUnavailableError):
    """HTTP 429 after the SDK's retries: rate limit or quota exceeded."""


class StructuredOutputError(LLMError):
    """The model's answer did not match the requested schema (missing, malformed, invalid)."""


#: HTTP statuses worth trying the other provider for (the SDKs retry the same set first).
_TRANSIENT_STATUSES = frozenset({408, 409})


def translate_sdk_error(exc: BaseException, *, provider: str, sdk: ModuleType) -> LLMError | None:
    """Map an ``openai`` / ``anthropic`` SDK exception onto the typed hierarchy.

    Both SDKs expose the same names at top level (``APIConnectionError``, ``APITimeoutError``,
    ``APIStatusError`` with ``status_code``), so one mapping serves both.

    Args:
        exc: The exception raised while talking to the provider.
        provider: ``openai`` or ``anthropic``, recorded on the new error.
        sdk: The SDK module whose exception classes ``exc`` may belong to.

    Returns:
        The typed error to raise (chain it with ``from exc``), or ``None`` when ``exc`` is not a
        provider error (already typed, or a bug elsewhere) and should propagate unchanged.
    """
    if isinstance(exc, LLMError):
        return None
    name = provider.capitalize() if provider != "openai" else "OpenAI"
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderTimeoutError(f"{name} request timed out", provider=provider)
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderUnavailableError(f"{name} could not be reached: {exc}", provider=provider)
    if not isinstance(exc, sdk.APIStatusError):
        return None
    status = int(exc.status_code)
    detail = f"{name} answered HTTP {status}: {_short(exc)}"
    if status in (401, 403):
        return ProviderAuthenticationError(detail, provider=provider)
    if status == 429:
        return ProviderRateLimitError(detail, provider=provider, status_code=status)
    if status >= 500 or status in _TRANSIENT_STATUSES:
        return ProviderUnavailableError(detail, provider=provider, status_code=status)
    return ProviderRequestError(detail, provider=provider, status_code=status)


def _short(exc: BaseException, limit: int = 300) -> str:
    """The SDK's message, shortened (providers mask API keys in their error messages)."""
    text = str(exc).strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"
