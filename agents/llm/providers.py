"""Chat model selection: OpenAI or Anthropic from the settings, the other as fallback, or none.

``make_chat_model`` is the only place that builds a provider client. With no API key the answer
is ``None``: the product runs offline and composes grounded replies with
:func:`agents.llm.offline.compose_grounded_reply`.

The provider packages are imported only when a model is actually built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import structlog
from pydantic import SecretStr

from agents.llm.errors import ProviderConfigurationError, ProviderUnavailableError
from graphs.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import RunnableWithFallbacks

#: What :func:`make_chat_model` returns when a provider is configured. A single provider is a
#: ``BaseChatModel``; with both keys it is the primary wrapped by ``.with_fallbacks``, which
#: forwards ``bind_tools`` / ``with_structured_output`` / streaming to both models.
ChatModel: TypeAlias = "BaseChatModel | RunnableWithFallbacks[LanguageModelInput, BaseMessage]"

Provider: TypeAlias = Literal["openai", "anthropic"]

#: Display names and the environment variable that carries each key.
_NAMES: dict[str, str] = {"openai": "OpenAI", "anthropic": "Anthropic"}
_KEY_ENV: dict[str, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

_log = structlog.get_logger(__name__)


def resolve_providers(settings: Settings) -> list[Provider]:
    """The providers to use, primary first, fallback second; empty means offline.

    Args:
        settings: ``llm_provider`` and the API keys are read.

    Returns:
        ``[]`` (offline), ``[primary]`` or ``[primary, fallback]``.

    Raises:
        ProviderConfigurationError: ``llm_provider`` names a provider whose key is not set.
    """
    available: list[Provider] = [p for p in ("openai", "anthropic") if _key(settings, p)]
    choice = settings.llm_provider
    if choice == "offline":
        return []
    if choice == "auto":
        return available
    if choice not in available:
        raise ProviderConfigurationError(
            f"GRACE_LLM_PROVIDER={choice} needs {_KEY_ENV[choice]} (or GRACE_{_KEY_ENV[choice]});"
            " set it, or use GRACE_LLM_PROVIDER=auto / offline",
            provider=choice,
        )
    return [choice, *(p for p in available if p != choice)]


def make_chat_model(settings: Settings | None = None) -> ChatModel | None:
    """Build the configured chat model, or ``None`` when no provider is configured.

    ``llm_provider="auto"`` picks OpenAI if ``openai_api_key`` is set, else Anthropic if
    ``anthropic_api_key`` is set, else nothing. ``openai`` / ``anthropic`` require that key.
    When both keys are set, the other provider is the fallback: it answers when the primary
    still fails after its own retries with a :class:`~agents.llm.errors.ProviderUnavailableError`
    (timeout, connection error, rate limit, HTTP 5xx). Authentication and request errors are not
    retried elsewhere: they surface as typed errors, so a wrong key is noticed.

    Every client gets ``timeout=llm_timeout_s`` and ``max_retries=llm_max_retries``; all support
    ``invoke``/``ainvoke``, token streaming (``stream``/``astream``, and LangGraph's
    ``stream_mode="messages"``), ``bind_tools`` and ``with_structured_output``.

    Args:
        settings: Settings to use; the process-wide ones by default.

    Returns:
        A chat model, a primary-with-fallback runnable, or ``None`` (offline).

    Raises:
        ProviderConfigurationError: ``llm_provider`` names a provider whose key is not set.
    """
    settings = settings or get_settings()
    providers = resolve_providers(settings)
    if not providers:
        _log.debug("llm.offline", requested=settings.llm_provider)
        return None
    models = [_build(p, settings) for p in providers]
    _log.debug("llm.configured", providers=providers, model=_model(settings, providers[0]))
    if len(models) == 1:
        return models[0]
    return models[0].with_fallbacks(models[1:], exceptions_to_handle=(ProviderUnavailableError,))


def provider_info(settings: Settings | None = None) -> dict[str, Any]:
    """Which provider and model answer, for status displays (``grace`` CLI, ``/readyz``).

    Never contains an API key. Does not raise: a misconfiguration is reported under ``error``.

    Args:
        settings: Settings to use; the process-wide ones by default.

    Returns:
        ``{"provider", "model", "fallback", "requested", "timeout_s", "max_retries", "label"}``
        plus ``base_url`` for a custom OpenAI endpoint and ``error`` when the settings are
        invalid. ``provider`` is ``"offline"`` (and ``model`` ``None``) without a language model.
    """
    settings = settings or get_settings()
    info: dict[str, Any] = {
        "requested": settings.llm_provider,
        "timeout_s": settings.llm_timeout_s,
        "max_retries": settings.llm_max_retries,
    }
    try:
        providers = resolve_providers(settings)
    except ProviderConfigurationError as exc:
        providers, info["error"] = [], str(exc)
    if not providers:
        info.update(provider="offline", model=None, fallback=None)
        info["label"] = "offline: grounded replies from the knowledge base and workflow actions"
        return info
    primary, *rest = providers
    info.update(provider=primary, model=_model(settings, primary))
    info["fallback"] = {"provider": rest[0], "model": _model(settings, rest[0])} if rest else None
    if primary == "openai" and settings.openai_base_url:
        info["base_url"] = _without_userinfo(settings.openai_base_url)
    label = f"{_NAMES[primary]} {info['model']}"
    if rest:
        label += f" (fallback: {_NAMES[rest[0]]} {_model(settings, rest[0])})"
    info["label"] = label
    return info


def _build(provider: Provider, settings: Settings) -> BaseChatModel:
    """One provider's client; imports its package on first use."""
    common: dict[str, Any] = {
        "model": _model(settings, provider),
        "api_key": _key(settings, provider),
        "timeout": settings.llm_timeout_s,
        "max_retries": settings.llm_max_retries,
        "stream_usage": True,
    }
    if provider == "openai":
        from agents.llm.clients import GraceChatOpenAI

        # Chat Completions, not the Responses API: OpenAI-compatible servers reached through
        # openai_base_url implement only the former.
        return GraceChatOpenAI(**common, base_url=settings.openai_base_url, use_responses_api=False)
    from agents.llm.clients import GraceChatAnthropic

    return GraceChatAnthropic(**common)


def _key(settings: Settings, provider: str) -> SecretStr | None:
    key = settings.openai_api_key if provider == "openai" else settings.anthropic_api_key
    return key if key is not None and key.get_secret_value().strip() else None


def _model(settings: Settings, provider: str) -> str:
    return settings.openai_chat_model if provider == "openai" else settings.anthropic_chat_model


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
