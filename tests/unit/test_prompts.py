from __future__ import annotations

import pytest

from agents.llm.structured import RoutingChoice, route_with_llm
from agents.prompts import (
    Prompt,
    PromptNotFoundError,
    PromptVersionError,
    available_prompts,
    load_prompt,
    parse_prompt,
)
from agents.registry import ALL_NAMES
from agents.testing import ScriptedChatModel


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_persona_has_a_versioned_prompt(name: str) -> None:
    prompt = load_prompt(name)
    assert prompt.name == name
    assert prompt.version >= 1
    assert "<!--" not in prompt.text.splitlines()[0]
    assert "{business_name}" in prompt.text


def test_available_prompts_cover_the_registry() -> None:
    assert set(ALL_NAMES) <= set(available_prompts())


def test_render_fills_business_name() -> None:
    text = load_prompt("nyra").render(business_name="Maple & Moss")
    assert "Maple & Moss" in text
    assert "{business_name}" not in text


def test_render_leaves_other_braces_alone() -> None:
    prompt = Prompt(name="x", version=2, text="Hi {business_name}, keep {this} and {{that}}.\n")
    assert prompt.render(business_name="B") == "Hi B, keep {this} and {{that}}.\n"


def test_load_is_case_insensitive_and_cached() -> None:
    assert load_prompt("Atlas") == load_prompt("atlas")
    assert load_prompt("atlas") is load_prompt("atlas")


@pytest.mark.parametrize("name", ["nobody", "../pyproject", "atlas.md", ""])
def test_missing_prompt_is_a_typed_error(name: str) -> None:
    with pytest.raises(PromptNotFoundError) as info:
        load_prompt(name)
    assert "grace" in info.value.available
    assert "available prompts" in str(info.value)
    assert isinstance(info.value, LookupError)


def test_parse_reads_version_and_body() -> None:
    prompt = parse_prompt("demo", "<!-- version: 12 -->\n# Title\n\nBody\n")
    assert prompt == Prompt(name="demo", version=12, text="# Title\n\nBody\n")


def test_parse_accepts_a_byte_order_mark_and_spacing() -> None:
    assert parse_prompt("demo", "\ufeff<!--version:3-->\nBody").version == 3


@pytest.mark.parametrize(
    "source",
    ["# Title\n<!-- version: 1 -->\n", "<!-- version: x -->\nBody", "<!-- version: 0 -->\n", ""],
)
def test_missing_or_bad_version_is_a_typed_error(source: str) -> None:
    with pytest.raises(PromptVersionError, match="version"):
        parse_prompt("demo", source)


async def test_llm_routing_call_sends_graces_prompt_file_then_the_task() -> None:
    fake = ScriptedChatModel([RoutingChoice(persona="solari", reason="a booking")])
    choice = await route_with_llm(fake, "book", "- solari: bookings", business_name="Maple & Moss")
    assert choice.persona == "solari"
    system, human = fake.calls[0].messages
    grace = load_prompt("grace").render(business_name="Maple & Moss").rstrip()
    assert system.type == "system" and system.text.startswith(grace)
    task = system.text.removeprefix(grace)
    assert "- solari: bookings" in task and "RoutingChoice" in task and "escalate_to_human" in task
    assert "{" not in system.text and human.text == "book"
