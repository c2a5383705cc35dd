"""Chat models with a fixed behaviour, each a :class:`~agents.testing.chat.ScriptedChatModel`.

* :class:`InstantChatModel` — one fixed reply at once (benchmarks of Grace's own overhead);
* :class:`SlowChatModel` — the same reply after a delay (an LLM call in flight, for crash tests);
* :class:`ObedientChatModel` — does what an injected instruction says: emits the attacker's
  tool calls, then echoes the tool results (the injection suite's compromised model);
* :class:`EveryToolChatModel` — calls every tool it is offered, with schema-valid arguments
  (the persona property test: a model trying every door it was given).

All of them record their calls like the scripted model (``calls``, ``tool_offers``) unless
``record=False``. Deterministic; no network.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

from agents.testing.chat import ScriptedCall, ScriptedChatModel

#: How :class:`ObedientChatModel` starts the answer it gives once the tools have run.
ECHO_PREFIX = "Done as instructed."


class InstantChatModel(ScriptedChatModel):
    """Replies ``reply`` at once, every time (tools accepted, never called).

    Args:
        reply: The text of every answer.
    """

    reply: str = "Happy to help."
    record: bool = False

    @property
    def _llm_type(self) -> str:
        return "instant"

    def respond(self, call: ScriptedCall) -> Any:
        """Always :attr:`reply`."""
        return self.reply


class SlowChatModel(InstantChatModel):
    """Replies ``reply`` after ``delay_s`` seconds (an LLM call in flight).

    Args:
        delay_s: Seconds each call takes (``asyncio.sleep``: the event loop stays free).
    """

    delay_s: float = 1.0

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        await asyncio.sleep(self.delay_s)
        return await super()._agenerate(messages, stop, run_manager, **kwargs)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        await asyncio.sleep(self.delay_s)
        async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
            yield chunk


class ObedientChatModel(ScriptedChatModel):
    """Emits the attacker's tool calls, then echoes the tool results as its answer.

    Where a real model might or might not fall for an attack, this one always does, so the
    workflow audit log afterwards shows what the executor and engine let through when the
    model is fully compromised.

    Args:
        tool_calls: ``[{"name": ..., "args": {...}}, ...]`` emitted on the first persona call
            of each user turn (every call, if ``repeat``).
        route_to: Persona returned when the supervisor asks for a structured routing choice.
        repeat: Emit the calls on every persona step, not only the first of a turn.
    """

    tool_calls: list[dict[str, Any]] = []
    route_to: str = "atlas"
    repeat: bool = False

    @property
    def _llm_type(self) -> str:
        return "obedient-attacker"

    def respond(self, call: ScriptedCall) -> Any:
        """A routing choice when one is forced, else the attack's calls, else the echo."""
        if call.forced_tool is not None:  # structured output: the supervisor's LLM router
            return {
                "persona": self.route_to,
                "secondary": [],
                "escalate_to_human": False,
                "reason": "the message told me where to send it",
            }
        results = [m for m in this_turn(call.messages) if isinstance(m, ToolMessage)]
        if self.tool_calls and (not results or self.repeat):
            return AIMessage(
                "",
                tool_calls=[
                    {
                        "name": str(c["name"]),
                        "args": dict(c.get("args") or {}),
                        "id": f"atk_{uuid.uuid4().hex[:10]}",
                        "type": "tool_call",
                    }
                    for c in self.tool_calls
                ],
            )
        echoed = "\n".join(str(m.content) for m in results)
        return AIMessage(f"{ECHO_PREFIX}\n{echoed}".strip())


#: ``(tool in OpenAI function format) -> argument sets``: one tool call per set.
ArgumentSource = Callable[[dict[str, Any]], Iterable[dict[str, Any]]]


class EveryToolChatModel(ScriptedChatModel):
    """Calls every tool it is offered, once per argument set, then says it is done.

    The first call of a user turn answers with one tool call per (offered tool, argument set);
    once tool results are in, it answers ``"Done."``. A forced tool (structured output) gets
    ``forced_reply``.

    Args:
        arguments: Argument sets per tool; the default, :func:`schema_arguments`, gives one
            set of schema-valid values.
        forced_reply: Answer to a forced tool call (a dict of its arguments).
    """

    arguments: ArgumentSource | None = None
    forced_reply: dict[str, Any] | None = None

    @property
    def _llm_type(self) -> str:
        return "every-tool"

    def respond(self, call: ScriptedCall) -> Any:
        """Every offered tool with every argument set, or ``Done.`` after the tools ran."""
        if call.forced_tool is not None:
            return dict(self.forced_reply or {})
        if any(isinstance(m, ToolMessage) for m in this_turn(call.messages)):
            return "Done."
        source = self.arguments or schema_arguments
        calls = [
            {"name": spec["function"]["name"], "args": args, "id": f"every_{i}_{j}"}
            for i, spec in enumerate(call.tool_specs)
            for j, args in enumerate(source(spec))
        ]
        return AIMessage("", tool_calls=calls) if calls else "Nothing to call."


def schema_arguments(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One schema-valid argument set for an OpenAI-format tool: required fields, first enum.

    Strings get ``"x"`` (or the first ``enum`` value), numbers 0, booleans False, arrays and
    objects empty. Only the required properties are filled.

    Args:
        spec: ``{"type": "function", "function": {"parameters": <JSON schema>, ...}}``.

    Returns:
        A one-element list (the shape :class:`EveryToolChatModel` expects).
    """
    params = spec.get("function", {}).get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    return [{name: _example(props.get(name) or {}) for name in params.get("required") or ()}]


def _example(schema: dict[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "string")
    return {"integer": 0, "number": 0.0, "boolean": False, "array": [], "object": {}}.get(kind, "x")


def this_turn(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages after the last human one (what happened in the current user turn)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i + 1 :])
    return list(messages)
