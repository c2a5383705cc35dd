"""LLM provider layer: selection, the real ChatOpenAI / ChatAnthropic behind respx, fallback,
typed errors and Grace's structured router (the scripted fake is tested in tests/fakes)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableWithFallbacks
from langchain_core.tools import tool

from agents.llm.clients import GraceChatAnthropic, GraceChatOpenAI
from agents.llm.errors import (
    LLMError,
    ProviderAuthenticationError,
    ProviderConfigurationError,
    ProviderRateLimitError,
    ProviderRequestError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    StructuredOutputError,
)
from agents.llm.providers import make_chat_model, provider_info
from agents.llm.structured import PERSONA_NAMES, RoutingChoice, route_with_llm
from graphs.core.settings import Settings
from tests.fakes.provider_api import PROVIDERS, ProviderApi, anthropic_stream

ROUTE: dict[str, Any] = {"persona": "solari", "secondary": ["atlas"], "reason": "r"}
OA, AN = PROVIDERS["openai"], PROVIDERS["anthropic"]


@tool
def confirm_booking(booking_id: str) -> str:
    """Confirm a wellness booking."""
    return booking_id


def settings(*providers: str, **kw: Any) -> Settings:
    """Settings independent of the environment (GRACE_* variables, a .env file)."""
    defaults: dict[str, Any] = {
        "llm_provider": "auto",
        "llm_max_retries": 0,
        "llm_timeout_s": 7.5,
        "anthropic_chat_model": AN.model,  # the settings default is a retired model
        "openai_api_key": None,
        "anthropic_api_key": None,
        "openai_base_url": None,
    }
    defaults.update({f"{p}_api_key": PROVIDERS[p].key for p in providers})
    return Settings(**{"_env_file": None, **defaults, **kw})


def model(*providers: str, **kw: Any) -> Any:
    return make_chat_model(settings(*providers, **kw))


def both(**kw: Any) -> Any:
    return model("openai", "anthropic", **kw)


def sent(route: respx.Route) -> dict[str, Any]:
    return dict(json.loads(route.calls.last.request.content))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture(params=sorted(PROVIDERS))
def provider(request: pytest.FixtureRequest) -> ProviderApi:
    return PROVIDERS[request.param]


# --- selection -------------------------------------------------------------------------------


def test_selection_and_client_options() -> None:
    assert model() is None
    assert model("openai", llm_provider="offline") is None
    assert make_chat_model(settings(openai_api_key="  ")) is None  # blank key = no key
    oa = model("openai", openai_base_url="http://127.0.0.1:9/v1", openai_chat_model="gpt-x")
    assert isinstance(oa, GraceChatOpenAI) and oa.openai_api_base == "http://127.0.0.1:9/v1"
    assert (oa.model_name, oa.request_timeout, oa.max_retries) == ("gpt-x", 7.5, 0)
    an = model("anthropic", llm_max_retries=3)
    assert isinstance(an, GraceChatAnthropic)
    assert (an.model, an.default_request_timeout, an.max_retries) == (AN.model, 7.5, 3)
    chain = both()
    assert isinstance(chain, RunnableWithFallbacks) and isinstance(chain.runnable, GraceChatOpenAI)
    assert [type(f) for f in chain.fallbacks] == [GraceChatAnthropic]
    assert chain.exceptions_to_handle == (ProviderUnavailableError,)
    flipped = both(llm_provider="anthropic")
    assert isinstance(flipped.runnable, GraceChatAnthropic)
    assert isinstance(flipped.fallbacks[0], GraceChatOpenAI)


@pytest.mark.parametrize(("wanted", "other"), [("openai", "anthropic"), ("anthropic", "openai")])
def test_explicit_provider_without_key_is_a_typed_error(wanted: str, other: str) -> None:
    with pytest.raises(ProviderConfigurationError, match=f"{wanted.upper()}_API_KEY") as info:
        model(other, llm_provider=wanted)
    assert isinstance(info.value, LLMError) and info.value.provider == wanted


def test_provider_info_never_shows_keys() -> None:
    offline = provider_info(settings())
    assert (offline["provider"], offline["model"]) == ("offline", None)
    info = provider_info(
        settings("openai", "anthropic", openai_base_url="https://user:pw@llm.example/v1")
    )
    assert (info["provider"], info["model"]) == ("openai", "gpt-4o-mini")
    assert info["fallback"] == {"provider": "anthropic", "model": AN.model}
    assert info["base_url"] == "https://llm.example/v1" and info["timeout_s"] == 7.5
    assert "fallback: Anthropic" in info["label"] and "offline" in offline["label"]
    broken = provider_info(settings(llm_provider="anthropic"))
    assert broken["provider"] == "offline" and "ANTHROPIC_API_KEY" in broken["error"]
    text = json.dumps([offline, info, broken]) + repr(both())
    assert OA.key not in text and AN.key not in text and "pw@" not in text


def test_importing_the_layer_loads_no_provider_package() -> None:
    code = (
        "import sys, agents.llm.providers, agents.llm.structured, agents.llm.offline; print(sorted("
        "m for m in ('openai', 'anthropic', 'langchain_openai', 'langchain_anthropic') "
        "if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.stdout.strip() == "[]", out.stderr


# --- each real client behind respx ------------------------------------------------------------


async def test_plain_reply(api: respx.MockRouter, provider: ProviderApi) -> None:
    route = api.post(provider.url).mock(return_value=provider.reply("Hello there"))
    reply = await model(provider.name).ainvoke([HumanMessage("hi")])
    assert isinstance(reply, AIMessage) and reply.text == "Hello there"
    assert reply.usage_metadata and reply.usage_metadata["total_tokens"] > 0
    assert route.calls.last.request.headers[provider.auth[0]] == provider.auth[1]
    assert route.calls.last.request.extensions["timeout"]["read"] == 7.5
    assert sent(route)["model"] == provider.model
    assert sent(route)["messages"][-1]["content"] in ("hi", [{"type": "text", "text": "hi"}])


def test_tool_call_sync(api: respx.MockRouter, provider: ProviderApi) -> None:
    route = api.post(provider.url).mock(
        return_value=provider.tool_call("confirm_booking", {"booking_id": "B-12"})
    )
    reply = model(provider.name).bind_tools([confirm_booking]).invoke("confirm B-12")
    assert reply.tool_calls == [
        {"name": "confirm_booking", "args": {"booking_id": "B-12"}, "id": provider.tool_call_id,
         "type": "tool_call"}
    ]  # fmt: skip
    offered = sent(route)["tools"][0]
    assert offered.get("name", offered.get("function", {}).get("name")) == "confirm_booking"


async def test_streams_tokens(api: respx.MockRouter, provider: ProviderApi) -> None:
    route = api.post(provider.url).mock(return_value=provider.stream(["Hel", "lo", " there"]))
    tokens = [c.content async for c in model(provider.name).astream("hi")]
    assert [t for t in tokens if t] == ["Hel", "lo", " there"]
    assert sent(route)["stream"] is True


async def test_structured_routing(api: respx.MockRouter, provider: ProviderApi) -> None:
    answers = [{**ROUTE, "persona": " Zevi "}, {**ROUTE, "persona": "bob"}]
    route = api.post(provider.url).mock(
        side_effect=[
            *(provider.tool_call("RoutingChoice", a) for a in answers),
            provider.reply("?"),
        ]
    )
    llm = model(provider.name)
    choice = await route_with_llm(llm, "segment my list", "- zevi: audiences")
    assert choice == RoutingChoice(persona="zevi", secondary=["atlas"], reason="r")
    body = sent(route)
    assert "zevi: audiences" in json.dumps(body)
    assert "RoutingChoice" in json.dumps(body["tool_choice"])
    schema = body["tools"][0].get("input_schema") or body["tools"][0]["function"]["parameters"]
    assert schema["properties"]["persona"]["enum"] == list(PERSONA_NAMES)
    with pytest.raises(StructuredOutputError, match="invalid routing output"):
        await route_with_llm(llm, "x", "-")
    with pytest.raises(StructuredOutputError, match="without a routing choice"):
        await route_with_llm(llm, "x", "-")


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, ProviderAuthenticationError), (400, ProviderRequestError),
     (429, ProviderRateLimitError), (500, ProviderUnavailableError)],
)  # fmt: skip
async def test_status_errors_are_typed(
    api: respx.MockRouter, provider: ProviderApi, status: int, error: type[LLMError]
) -> None:
    api.post(provider.url).mock(return_value=provider.error(status))
    with pytest.raises(error, match=str(status)) as info:
        await model(provider.name).ainvoke("hi")
    assert info.value.provider == provider.name


async def test_anthropic_streams_a_tool_call(api: respx.MockRouter) -> None:
    api.post(AN.url).mock(
        return_value=anthropic_stream(["On it."], tool_use=("confirm_booking", {"booking_id": "B"}))
    )
    merged: Any = None
    async for chunk in model("anthropic").bind_tools([confirm_booking]).astream("confirm B"):
        merged = chunk if merged is None else merged + chunk
    assert merged.text == "On it."
    assert [(c["name"], c["args"], c["id"]) for c in merged.tool_calls] == [
        ("confirm_booking", {"booking_id": "B"}, "toolu_01S")
    ]


# --- fallback and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("timed out"), OA.error(503)], ids=["timeout", "503"]
)
async def test_openai_failure_falls_back_to_anthropic(api: respx.MockRouter, failure: Any) -> None:
    primary = api.post(OA.url).mock(side_effect=[failure, failure])
    secondary = api.post(AN.url).mock(
        side_effect=[AN.reply("Claude here"), AN.tool_call("RoutingChoice", ROUTE)]
    )
    assert (await both().ainvoke("hi")).text == "Claude here"
    assert (await route_with_llm(both(), "book", "- solari")).persona == "solari"
    assert primary.call_count == 2 and secondary.call_count == 2


async def test_fallback_streams_and_binds_tools(api: respx.MockRouter) -> None:
    api.post(AN.url).mock(return_value=AN.error(529))
    openai = api.post(OA.url).mock(
        side_effect=[
            OA.stream(["Open", "AI"]),
            OA.tool_call("confirm_booking", {"booking_id": "B"}),
        ]
    )
    chunks = [c.content async for c in both(llm_provider="anthropic").astream("hi")]
    assert "".join(chunks) == "OpenAI"
    reply = await both(llm_provider="anthropic").bind_tools([confirm_booking]).ainvoke("B")
    assert reply.tool_calls[0]["args"] == {"booking_id": "B"}
    assert sent(openai)["tools"][0]["function"]["name"] == "confirm_booking"


async def test_langgraph_message_streaming_reaches_the_client(api: respx.MockRouter) -> None:
    import langgraph.graph as graph_mod

    api.post(OA.url).mock(return_value=OA.stream(["Str", "eam"]))
    chain = both()

    async def answer(state: dict[str, Any]) -> dict[str, Any]:
        return {"reply": (await chain.ainvoke(state["question"])).content}

    graph = graph_mod.StateGraph(dict)
    graph.add_node("answer", answer)
    graph.add_edge(graph_mod.START, "answer")
    stream = graph.compile().astream({"question": "hi"}, stream_mode="messages")
    assert [m.content async for m, _ in stream if m.content] == ["Str", "eam"]


async def test_auth_error_and_double_outage_surface_typed(api: respx.MockRouter) -> None:
    openai = api.post(OA.url).mock(side_effect=[OA.error(401), httpx.ConnectError("refused")])
    anthropic = api.post(AN.url).mock(side_effect=[httpx.ConnectTimeout("slow")] * 2)
    with pytest.raises(ProviderAuthenticationError):  # a wrong key is not hidden by the fallback
        await both().ainvoke("hi")
    assert anthropic.call_count == 0
    with pytest.raises(ProviderUnavailableError, match="could not be reached") as info:
        await both().ainvoke("hi")  # both down: the primary's error, the fallback was tried
    assert info.value.provider == "openai" and anthropic.call_count == 1
    with pytest.raises(ProviderTimeoutError, match="Anthropic request timed out"):
        await model("anthropic").ainvoke("hi")
    assert openai.call_count == 2


async def test_provider_retries_before_falling_back(api: respx.MockRouter) -> None:
    busy = OA.error(503)
    busy.headers["retry-after-ms"] = "1"
    primary = api.post(OA.url).mock(side_effect=[busy, OA.reply("second try")])
    secondary = api.post(AN.url).mock(return_value=AN.reply("unused"))
    assert (await both(llm_max_retries=1).ainvoke("hi")).text == "second try"
    assert (primary.call_count, secondary.call_count) == (2, 0)
