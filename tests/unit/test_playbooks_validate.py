"""Playbook schema and the basic, standard and strict validation levels (no I/O)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from graphs.playbooks.model import PlaybookError, default_playbooks, render
from graphs.playbooks.validate import LEVELS, validate

BASE: dict[str, Any] = {
    "id": "demo",
    "version": 1,
    "name": "Demo",
    "description": "A demo playbook",
    "parameters": [{"name": "booking_id", "type": "string", "required": True}],
    "steps": [
        {"id": "schedule", "kind": "transition", "persona": "nyra", "workflow": "WF-WELL-BOOK",
         "event": "consultation_scheduled", "subject": "booking:{booking_id}"},
        {"id": "quote", "kind": "transition", "persona": "solari", "workflow": "WF-WELL-BOOK",
         "event": "consultation_completed", "depends_on": ["schedule"]},
    ],
}  # fmt: skip


def _with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def _steps(*patches: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    for i, patch in enumerate(patches):
        data["steps"][i].update(patch)
    return data


def _messages(data: dict[str, Any], level: str) -> list[str]:
    return [str(i) for i in validate(data, level).issues]  # type: ignore[arg-type]


@pytest.mark.parametrize("pb", list(default_playbooks()), ids=lambda pb: pb.id)
@pytest.mark.parametrize("level", ["basic", "standard", "strict"])
def test_every_builtin_is_valid(pb: Any, level: str) -> None:
    assert validate(pb, level).ok  # type: ignore[arg-type]


def test_the_base_example_is_valid_at_strict() -> None:
    assert _messages(BASE, "strict") == []


def test_basic_rejects_duplicate_ids_unknown_dependencies_and_cycles() -> None:
    dup = _steps({}, {"id": "schedule"})
    assert any("duplicate step ids" in m for m in _messages(dup, "basic"))
    unknown = _steps({}, {"depends_on": ["nope"]})
    assert any("unknown 'nope'" in m for m in _messages(unknown, "basic"))
    cycle = _steps({"depends_on": ["quote"]})
    assert any("dependency cycle" in m for m in _messages(cycle, "basic"))
    assert any("needs workflow" in m or "workflow" in m
               for m in _messages(_steps({"workflow": None, "event": None}), "basic"))  # fmt: skip


def test_standard_rejects_unknown_names_and_impossible_orders() -> None:
    assert any(
        "unknown workflow" in m for m in _messages(_steps({"workflow": "WF-NOPE"}), "standard")
    )
    assert any("has no event" in m for m in _messages(_steps({"event": "nope"}), "standard"))
    assert any("unknown persona" in m for m in _messages(_steps({"persona": "bob"}), "standard"))
    assert any("undeclared parameter 'case'" in m
               for m in _messages(_steps({"subject": "booking:{case}"}), "standard"))  # fmt: skip
    # the second event first: impossible from the initial state
    swapped = _steps({"depends_on": ["quote"]}, {"depends_on": []})
    assert any("impossible from 'inquiry'" in m for m in _messages(swapped, "standard"))
    # two steps on one workflow with no order between them
    parallel = _steps({}, {"depends_on": []})
    assert any("must depend on 'schedule'" in m for m in _messages(parallel, "standard"))
    bad_default = _with(parameters=[{"name": "booking_id", "type": "integer", "default": "x"}])
    assert any("default is not integer" in m for m in _messages(bad_default, "standard"))


def test_strict_rejects_a_step_whose_persona_does_not_own_the_transition() -> None:
    data = _steps({}, {"persona": "nyra"})  # consultation_completed belongs to solari
    assert _messages(data, "standard") == []
    msgs = _messages(data, "strict")
    assert msgs == ["[strict] step quote: nyra does not own WF-WELL-BOOK consultation_completed "
                    "(owner: solari)"]  # fmt: skip


def test_strict_puts_human_steps_behind_an_approval_gate() -> None:
    data = _with(steps=[*BASE["steps"], {
        "id": "accept", "kind": "transition", "persona": "solari", "workflow": "WF-WELL-BOOK",
        "event": "client_accepted_quote", "depends_on": ["quote"]}])  # fmt: skip
    assert any("must be an approval step" in m for m in _messages(data, "strict"))
    data["steps"][-1].update(kind="approval", persona="human")
    assert _messages(data, "strict") == []


def test_strict_requires_the_compensation_the_workflow_data_allows() -> None:
    base = {"id": "demo", "version": 1, "name": "d", "description": "d", "steps": [
        {"id": "plan", "kind": "approval", "persona": "human", "workflow": "WF-MKTG-CAMP",
         "event": "plan_approved"},
        {"id": "seg", "kind": "transition", "persona": "zevi", "workflow": "WF-MKTG-CAMP",
         "event": "segments_defined", "depends_on": ["plan"]},
        {"id": "content", "kind": "transition", "persona": "elan", "workflow": "WF-MKTG-CAMP",
         "event": "content_ready", "depends_on": ["seg"]},
    ]}  # fmt: skip
    assert any("declare the compensation" in m for m in _messages(base, "strict"))
    base["steps"][2]["compensation"] = {"event": "revisions_needed", "persona": "elan"}
    assert any("elan does not own compensation" in m for m in _messages(base, "strict"))
    base["steps"][2]["compensation"] = {"event": "plan_approved", "persona": "human"}
    assert any("does not lead" in m for m in _messages(base, "strict"))
    base["steps"][2]["compensation"] = {"event": "revisions_needed", "persona": "human"}
    assert _messages(base, "strict") == []


def test_strict_refuses_secrets_in_parameters() -> None:
    named = _with(parameters=[*BASE["parameters"], {"name": "api_key", "default": "abc"}])
    assert any("looks like a secret" in m for m in _messages(named, "strict"))
    key = {"name": "note", "default": "sk-abcdefghijklmnopqrstuvwx"}
    valued = _with(parameters=[*BASE["parameters"], key])
    assert any("looks like a credential" in m for m in _messages(valued, "strict"))
    assert _messages(named, "standard") == []


def test_parameters_get_defaults_and_types() -> None:
    pb = default_playbooks().get("lead-to-booking")
    assert pb.resolve_params({"booking_id": "B-1"}) == {"booking_id": "B-1",
                                                       "subject": "wellness inquiry"}  # fmt: skip
    with pytest.raises(PlaybookError, match="required"):
        pb.resolve_params({})
    with pytest.raises(PlaybookError, match="must be string"):
        pb.resolve_params({"booking_id": 7})
    with pytest.raises(PlaybookError, match="unknown parameters"):
        pb.resolve_params({"booking_id": "B", "x": 1})
    with pytest.raises(PlaybookError, match="missing value"):
        render("{nope}", {})


def test_levels_are_ordered() -> None:
    assert LEVELS == ("basic", "standard", "strict", "paranoid")
