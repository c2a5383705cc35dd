"""The scripted fake chat model: script items, tool offers, streaming, structured output."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import tool

from agents.llm.errors import (
    ProviderAuthenticationError,
    ProviderUnavailableError,
    StructuredOutputError,
)
from agents.llm.structured import RoutingChoice, route_with_llm
from agents.testing import ScriptedChatModel, ScriptExhausted

ROUTE: dict[str, Any] = {"persona": "solari", "secondary": ["atlas"], "reason": "r"}


@tool
def confirm_booking(booking_id: str) -> str:
    """Confirm a wellness booking."""
    return booking_id


async def test_scripted_model_tools_streaming_structured_and_records() -> None:
    call = {"name": "confirm_booking", "args": {"booking_id": "B"}, "id": None}
    script = [AIMessage("", tool_calls=[call]), "Booked, see you soon.", RoutingChoice(**ROUTE)]
    fake = ScriptedChatModel([*script, {**ROUTE, "persona": "nope"}])
    bound = fake.bind_tools([confirm_booking])
    first = await bound.ainvoke([HumanMessage("confirm B")])
    assert first.tool_calls[0]["name"] == "confirm_booking" and first.tool_calls[0]["id"]
    tokens = [c.content async for c in bound.astream("thanks")]
    assert [t for t in tokens if t] == ["Booked,", " see", " you", " soon."]
    assert await route_with_llm(fake, "book", "- solari") == RoutingChoice(**ROUTE)
    with pytest.raises(StructuredOutputError):
        await route_with_llm(fake, "book", "- solari")
    assert fake.tool_offers == [("confirm_booking",), ("RoutingChoice",), ("RoutingChoice",)]
    assert fake.offered_tool_names == {"confirm_booking", "RoutingChoice"}
    assert [c.tools for c in fake.calls[:2]] == [("confirm_booking",)] * 2
    assert [c.streamed for c in fake.calls] == [False, True, False, False]
    assert fake.calls[0].last_text == "confirm B" and fake.calls[2].messages[0].type == "system"
    fake.assert_exhausted()
    with pytest.raises(ScriptExhausted, match="call #5"):
        fake.invoke("one more")


def test_scripted_model_streams_tool_calls_raises_and_falls_back() -> None:
    fake = ScriptedChatModel(
        [AIMessage("ok", tool_calls=[{"name": "t", "args": {"a": 1}, "id": "c"}])]
    )
    merged: Any = None
    for chunk in fake.stream("x"):
        merged = chunk if merged is None else merged + chunk
    assert merged.text == "ok" and merged.tool_calls[0]["args"] == {"a": 1}

    def echo(messages: list[BaseMessage]) -> str:
        return f"echo: {messages[-1].text}"

    broken = ScriptedChatModel(default=ProviderUnavailableError("down", provider="openai"))
    backup = ScriptedChatModel(default=echo)
    chain = broken.with_fallbacks([backup], exceptions_to_handle=(ProviderUnavailableError,))
    assert [chain.invoke(q).content for q in ("a", "b")] == ["echo: a", "echo: b"]
    assert len(broken.calls) == 2 and len(backup.calls) == 2
    with pytest.raises(ProviderAuthenticationError):
        ScriptedChatModel([ProviderAuthenticationError("no")]).invoke("x")


async def test_instant_slow_and_every_tool_models_are_scripted_models() -> None:
    from agents.testing import (
        EveryToolChatModel,
        FixedRouter,
        InstantChatModel,
        SlowChatModel,
        schema_arguments,
    )

    assert (await InstantChatModel(reply="Hi.").ainvoke("x")).content == "Hi."
    slow = SlowChatModel(delay_s=0.05, reply="Later.")
    assert [c.content async for c in slow.astream("x") if c.content] == ["Later."]
    assert slow.call_count == 1 and slow.calls == []  # counted, not recorded
    spec = {
        "type": "function",
        "function": {
            "name": "handoff",
            "parameters": {
                "type": "object",
                "properties": {"to": {"enum": ["atlas", "grace"]}, "n": {"type": "integer"}},
                "required": ["to", "n"],
            },
        },
    }
    assert schema_arguments(spec) == [{"to": "atlas", "n": 0}]
    model = EveryToolChatModel()
    first = await model.bind_tools([spec, confirm_booking]).ainvoke([HumanMessage("go")])
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [
        ("handoff", {"to": "atlas", "n": 0}),
        ("confirm_booking", {"booking_id": "x"}),
    ]
    assert FixedRouter("nyra").route("anything", current="atlas").persona == "nyra"
