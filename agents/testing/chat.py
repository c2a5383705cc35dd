"""A scripted chat model: answers in a given order, records everything it was asked and offered.

``ScriptedChatModel`` is a real langchain-core ``BaseChatModel``, so it goes wherever a provider
model goes (LangGraph nodes, ``bind_tools``, ``with_structured_output``, ``with_fallbacks``,
``astream`` and ``stream_mode="messages"``). Each call consumes the next script item:

* ``str``: a plain reply;
* ``AIMessage``: returned as is, tool calls included (missing tool-call ids become ``call_<n>``);
* a pydantic object or a ``dict``: a tool call of the forced tool (what a provider returns for
  ``with_structured_output(..., method="function_calling")``), so the object comes back parsed;
* an exception (instance or class): raised, e.g. to exercise a fallback;
* a callable ``(messages) -> item``: called with the call's messages, its result used as above.

When the script runs out, ``default`` (any item above) answers, else :class:`ScriptExhausted`
fails the test. Concurrent callers (parallel personas) should use a callable ``default`` that
looks at the messages, since the order in which they consume the script is not fixed.

Subclasses that answer from the whole request (the tools offered, the forced tool) override
:meth:`ScriptedChatModel.respond`, which gets the recorded :class:`ScriptedCall`; the other
doubles of :mod:`agents.testing` are built that way.

Example::

    model = ScriptedChatModel(
        [AIMessage("", tool_calls=[{"name": "confirm_booking", "args": {}, "id": "c1"}]), "Done."]
    )
    bound = model.bind_tools([confirm_booking])
    ...
    assert model.offered_tool_names == {"confirm_booking"}
    assert model.calls[1].messages[-1].type == "tool"
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

_TOKEN = re.compile(r"\s*\S+|\s+$")


class ScriptExhausted(AssertionError):
    """The model was called more times than the script has answers (and no default was set)."""


@dataclass(frozen=True)
class ScriptedCall:
    """One request the model received.

    Attributes:
        messages: The messages sent, system prompt included.
        tools: Names of the tools offered on this call (bound with ``bind_tools``).
        tool_choice: The forced tool choice, if any (``with_structured_output`` forces one).
        streamed: True for ``stream``/``astream`` (and LangGraph message streaming).
        kwargs: Other call options (``stop`` included).
        tool_specs: The offered tools in OpenAI function format (name, description and the
            JSON schema of the arguments), in :attr:`tools` order.
    """

    messages: list[BaseMessage]
    tools: tuple[str, ...]
    tool_choice: Any
    streamed: bool
    kwargs: dict[str, Any]
    tool_specs: tuple[dict[str, Any], ...] = ()

    @property
    def forced_tool(self) -> str | None:
        """The tool this call must use, if the caller forced one (structured output does)."""
        return _forced_tool(self.tools, self.tool_choice)

    @property
    def last_text(self) -> str:
        """Text of the last message (usually the client's), for quick assertions."""
        return self.messages[-1].text if self.messages else ""


class ScriptedChatModel(BaseChatModel):
    """A chat model that replies from a script and records calls and tool offers.

    Args:
        script: Replies in order (see the module docstring for the accepted items).
        default: Answer once the script is used up; ``None`` raises :class:`ScriptExhausted`.
        record: Keep every request in :attr:`calls` (benchmarks that run thousands of turns
            turn it off; :attr:`call_count` still counts).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: list[Any] = Field(default_factory=list)
    default: Any = None
    record: bool = True
    calls: list[ScriptedCall] = Field(default_factory=list)
    call_count: int = 0
    tool_offers: list[tuple[str, ...]] = Field(default_factory=list)
    _cursor: int = PrivateAttr(default=0)
    #: Makes message and tool-call ids unique across model instances and processes (a thread
    #: checkpointed by one process and resumed by another must not see an id twice: LangGraph
    #: replaces a message whose id it already holds).
    _token: str = PrivateAttr(default_factory=lambda: uuid.uuid4().hex[:8])

    def __init__(self, script: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(**{"script": list(script), **kwargs})

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def remaining(self) -> int:
        """Script items not consumed yet."""
        return len(self.script) - self._cursor

    @property
    def offered_tool_names(self) -> set[str]:
        """Every tool name ever passed to :meth:`bind_tools`."""
        return {name for offer in self.tool_offers for name in offer}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools``: recorded in :attr:`tool_offers`, then bound like a provider does.

        Returns:
            A binding whose calls record the tool names in :attr:`ScriptedCall.tools`.
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        self.tool_offers.append(tuple(t["function"]["name"] for t in formatted))
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self._answer(messages, stop, streamed=False, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Natively async like the provider clients: no thread-pool hop per call.
        message = self._answer(messages, stop, streamed=False, **kwargs)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._answer(messages, stop, streamed=True, **kwargs)
        for chunk in _chunks(message):
            if run_manager and isinstance(chunk.message.content, str):
                run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        message = self._answer(messages, stop, streamed=True, **kwargs)
        for chunk in _chunks(message):
            if run_manager and isinstance(chunk.message.content, str):
                await run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk

    def assert_exhausted(self) -> None:
        """Fail when script items were left unused."""
        assert self.remaining == 0, f"{self.remaining} scripted replies were never requested"

    def respond(self, call: ScriptedCall) -> Any:
        """The script item answering ``call``: the next one, else ``default``.

        Override to answer from the request itself (:attr:`ScriptedCall.tool_specs`,
        :attr:`ScriptedCall.forced_tool`); the result is turned into a message like a script
        item.

        Raises:
            ScriptExhausted: the script is used up and there is no ``default``.
        """
        if self._cursor < len(self.script):
            item = self.script[self._cursor]
            self._cursor += 1
            return item
        if self.default is not None:
            return self.default
        raise ScriptExhausted(
            f"call #{self.call_count} has no scripted reply ({len(self.script)} scripted); "
            f"last message: {call.last_text[:200]!r}"
        )

    def _answer(
        self, messages: list[BaseMessage], stop: list[str] | None, *, streamed: bool, **kw: Any
    ) -> AIMessage:
        specs = tuple(kw.pop("tools", None) or ())
        tools = tuple(t["function"]["name"] for t in specs)
        tool_choice = kw.pop("tool_choice", None)
        if stop:
            kw["stop"] = stop
        call = ScriptedCall(list(messages), tools, tool_choice, streamed, kw, specs)
        self.call_count += 1
        if self.record:
            self.calls.append(call)
        ref = f"{self._token}-{self.call_count}"
        return _to_message(self.respond(call), messages, call.forced_tool, self.call_count, ref)


def _forced_tool(tools: tuple[str, ...], tool_choice: Any) -> str | None:
    """The tool a call must use, if the caller forced one (structured output does)."""
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        return str(name) if name else None
    if tool_choice in ("any", "required", True) and len(tools) == 1:
        return tools[0]
    if isinstance(tool_choice, str) and tool_choice in tools:
        return tool_choice
    return None


def _to_message(
    item: Any, messages: list[BaseMessage], forced: str | None, n: int, ref: str
) -> AIMessage:
    if callable(item) and not isinstance(item, type | BaseModel):
        item = item(messages)
    if isinstance(item, BaseException) or (
        isinstance(item, type) and issubclass(item, BaseException)
    ):
        raise item
    if isinstance(item, str):
        return AIMessage(content=item, id=f"scripted-{ref}")
    if isinstance(item, AIMessage):
        calls = [
            {**c, "id": c.get("id") or f"call_{ref}_{i}"} for i, c in enumerate(item.tool_calls)
        ]
        return item.model_copy(update={"tool_calls": calls, "id": item.id or f"scripted-{ref}"})
    if isinstance(item, BaseModel | dict):
        args = item.model_dump(mode="json") if isinstance(item, BaseModel) else dict(item)
        name = forced or (type(item).__name__ if isinstance(item, BaseModel) else None)
        if name is None:
            raise TypeError(f"call #{n}: a dict reply needs a forced tool (structured output)")
        call = {"name": name, "args": args, "id": f"call_{ref}_0", "type": "tool_call"}
        return AIMessage(content="", tool_calls=[call], id=f"scripted-{ref}")
    raise TypeError(f"call #{n}: cannot reply with {type(item).__name__}")


def _chunks(message: AIMessage) -> Iterator[ChatGenerationChunk]:
    """The message as a provider would stream it: text token by token, then the tool calls."""
    text = message.content if isinstance(message.content, str) else message.text
    tokens = _TOKEN.findall(text) or [""]
    for token in tokens:
        yield ChatGenerationChunk(message=AIMessageChunk(content=token, id=message.id))
    tool_chunks = [
        {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
        for i, c in enumerate(message.tool_calls)
    ]
    yield ChatGenerationChunk(
        message=AIMessageChunk(
            content="",
            id=message.id,
            tool_call_chunks=tool_chunks,  # type: ignore[arg-type]
            response_metadata=message.response_metadata,
            chunk_position="last",
        )
    )
