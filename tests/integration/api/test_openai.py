"""The official ``openai`` client against ``/v1/chat/completions`` and ``/v1/models``."""

from __future__ import annotations

import httpx
import openai
import pytest

from agents.testing import ScriptedChatModel
from tests.integration.api.conftest import MakeClient, app_of, new_key

pytestmark = pytest.mark.integration


async def _openai(
    make_client: MakeClient, model: ScriptedChatModel, *, key: str | None = None
) -> openai.AsyncOpenAI:
    """The official client on the app, authenticated with a new ``client``-role key."""
    client = await make_client(model=model, dev=False, secret_key="k" * 16 + "s" * 24)
    return openai.AsyncOpenAI(
        base_url="http://grace.test/v1",
        api_key=key or await new_key(client, "openai-test", "client"),
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=app_of(client))),
        max_retries=0,
    )


async def test_models_and_a_completion_with_the_real_client(make_client: MakeClient) -> None:
    oa = await _openai(make_client, ScriptedChatModel(["Solari: Tuesday works.", "Sure."]))
    models = [m.id async for m in oa.models.list()]
    assert models[0] == "grace" and len(models) == 9 and "atlas" in models

    raw = await oa.chat.completions.with_raw_response.create(
        model="grace",
        messages=[
            {"role": "system", "content": "ignored: personas have their own prompts"},
            {"role": "user", "content": "Can I book a sound bath on Tuesday?"},
        ],
    )
    done = raw.parse()
    assert done.object == "chat.completion"
    assert done.choices[0].message.content == "Solari: Tuesday works."
    assert done.choices[0].finish_reason == "stop"
    thread = raw.headers["x-grace-thread"]
    assert (done.model_extra or {})["grace"]["thread_id"] == thread

    again = await oa.chat.completions.create(
        model="solari",
        messages=[{"role": "user", "content": "And Wednesday?"}],
        extra_headers={"X-Grace-Thread": thread},
    )
    assert again.choices[0].message.content == "Sure."
    assert (again.model_extra or {})["grace"]["thread_id"] == thread


async def test_streaming_with_the_real_client(make_client: MakeClient) -> None:
    oa = await _openai(make_client, ScriptedChatModel(["Happy to help with that booking."]))
    stream = await oa.chat.completions.create(
        model="grace",
        messages=[{"role": "user", "content": "Can I book Tuesday?"}],
        stream=True,
    )
    chunks = [c async for c in stream]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Happy to help with that booking."
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert len(chunks) >= 3  # role, content, stop


async def test_unknown_model_and_bad_key_are_typed_errors(make_client: MakeClient) -> None:
    oa = await _openai(make_client, ScriptedChatModel([]))
    with pytest.raises(openai.NotFoundError) as err:
        await oa.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.body["type"].endswith("/unknown-persona")  # type: ignore[index]
    bad = await _openai(make_client, ScriptedChatModel([]), key="gf_00000000_" + "x" * 43)
    with pytest.raises(openai.AuthenticationError):
        await bad.chat.completions.create(
            model="grace", messages=[{"role": "user", "content": "hi"}]
        )
