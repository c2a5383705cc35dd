"""``ChatOpenAI`` and ``ChatAnthropic`` that raise the typed errors of :mod:`agents.llm.errors`.

The subclasses change nothing but error handling: every request path (``invoke``, ``ainvoke``,
``stream``, ``astream``, tool binding, structured output) ends in one of the four methods
overridden here, which translate SDK exceptions. This module imports both provider packages;
:mod:`agents.llm.providers` imports it only when a provider is configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any, ClassVar

import anthropic
import openai
from langchain_anthropic import ChatAnthropic
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI

from agents.llm.errors import LLMError, translate_sdk_error


class _TypedErrors(BaseChatModel):
    """Mixin: re-raise provider SDK exceptions as :class:`agents.llm.errors.LLMError`."""

    grace_provider: ClassVar[str]
    grace_sdk: ClassVar[ModuleType]

    def _typed(self, exc: Exception) -> LLMError | None:
        return translate_sdk_error(exc, provider=self.grace_provider, sdk=self.grace_sdk)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            # The MRO puts the provider class between this mixin and BaseChatModel.
            return super()._generate(messages, stop, run_manager, **kwargs)  # type: ignore[safe-super]
        except Exception as exc:
            if (typed := self._typed(exc)) is None:
                raise
            raise typed from exc

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            return await super()._agenerate(messages, stop, run_manager, **kwargs)
        except Exception as exc:
            if (typed := self._typed(exc)) is None:
                raise
            raise typed from exc

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        try:
            yield from super()._stream(messages, stop, run_manager, **kwargs)
        except Exception as exc:
            if (typed := self._typed(exc)) is None:
                raise
            raise typed from exc

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        try:
            async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
                yield chunk
        except Exception as exc:
            if (typed := self._typed(exc)) is None:
                raise
            raise typed from exc


class GraceChatOpenAI(_TypedErrors, ChatOpenAI):
    """``langchain_openai.ChatOpenAI`` raising :mod:`agents.llm.errors` types."""

    grace_provider: ClassVar[str] = "openai"
    grace_sdk: ClassVar[ModuleType] = openai


class GraceChatAnthropic(_TypedErrors, ChatAnthropic):
    """``langchain_anthropic.ChatAnthropic`` raising :mod:`agents.llm.errors` types."""

    grace_provider: ClassVar[str] = "anthropic"
    grace_sdk: ClassVar[ModuleType] = anthropic
