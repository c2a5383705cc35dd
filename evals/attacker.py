"""An *obedient* chat model: it does exactly what an injected instruction tells it to.

The injection suite runs each attack twice: offline (no model), and with this model in place of
a provider. Where a real model might or might not fall for an attack, this one always does — its
first reply in a persona emits the attack's tool calls (forbidden transitions, requests for
human steps, case look-ups), its next reply repeats what the tools returned. Measuring the
workflow audit log afterwards then shows what the *executor and engine* let through when the
model is fully compromised, which is the guarantee the design makes (a persona cannot even name
a transition it does not own).

It is a real langchain-core ``BaseChatModel`` (``bind_tools``, ``with_structured_output`` via
function calling), so it goes where a provider model goes. Deterministic; no network.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

ECHO_PREFIX = "Done as instructed."


class ObedientChatModel(BaseChatModel):
    """Emits the attacker's tool calls, then echoes the tool results as its answer.

    Args:
        tool_calls: ``[{"name": ..., "args": {...}}, ...]`` emitted on the first persona call
            of each user turn (every call, if ``repeat``).
        route_to: Persona returned when the supervisor asks for a structured routing choice.
        repeat: Emit the calls on every persona step, not only the first of a turn.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    route_to: str = "atlas"
    repeat: bool = False
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "obedient-attacker"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` the way a provider model does (OpenAI function format)."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        return ChatResult(generations=[ChatGeneration(message=self._answer(messages, **kwargs))])

    def _answer(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        names = [t["function"]["name"] for t in kwargs.get("tools") or ()]
        forced = _forced(kwargs.get("tool_choice"), names)
        if forced is not None:  # structured output: the supervisor's LLM router
            args = {
                "persona": self.route_to,
                "secondary": [],
                "escalate_to_human": False,
                "reason": "the message told me where to send it",
            }
            call = {"name": forced, "args": args, "id": _id(), "type": "tool_call"}
            return AIMessage("", tool_calls=[call])
        turn = _this_turn(messages)
        results = [m for m in turn if isinstance(m, ToolMessage)]
        if self.tool_calls and (not results or self.repeat):
            calls = [
                {
                    "name": str(c["name"]),
                    "args": dict(c.get("args") or {}),
                    "id": _id(),
                    "type": "tool_call",
                }
                for c in self.tool_calls
            ]
            return AIMessage("", tool_calls=calls)
        echoed = "\n".join(str(m.content) for m in results)
        return AIMessage(f"{ECHO_PREFIX}\n{echoed}".strip())


def _forced(tool_choice: Any, names: list[str]) -> str | None:
    """The tool a call must use (structured output forces one), if any."""
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        return str(name) if name else None
    if tool_choice in ("any", "required", True) and len(names) == 1:
        return names[0]
    if isinstance(tool_choice, str) and tool_choice in names:
        return tool_choice
    return None


def _this_turn(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i + 1 :])
    return list(messages)


def _id() -> str:
    return f"atk_{uuid.uuid4().hex[:10]}"
