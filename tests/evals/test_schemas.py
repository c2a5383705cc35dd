"""Dataset schemas: the shipped datasets validate; a bad line names its file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.schemas import (
    ComplianceCase,
    DatasetError,
    EscalationCase,
    EvalCase,
    InjectionCase,
    RetrievalCase,
    RoutingCase,
    dataset_path,
    load_cases,
)
from graphs.workflows.model import PERSONAS

MINIMUMS = [
    ("routing", RoutingCase, 150),
    ("escalation", EscalationCase, 60),
    ("retrieval", RetrievalCase, 70),
    ("compliance", ComplianceCase, 80),
    ("injection", InjectionCase, 40),
]


@pytest.mark.parametrize(("name", "model", "minimum"), MINIMUMS)
def test_shipped_datasets_validate(name: str, model: type[EvalCase], minimum: int) -> None:
    cases: list[EvalCase] = load_cases(dataset_path(name), model)
    assert len(cases) >= minimum
    assert all(c.tags for c in cases)


def test_dataset_coverage() -> None:
    routing = load_cases(dataset_path("routing"), RoutingCase)
    assert {c.expected for c in routing} == set(PERSONAS)
    esc = load_cases(dataset_path("escalation"), EscalationCase)
    assert {c.expected_level for c in esc} == {1, 2, 3, 4}
    assert any(len(c.turns) > 1 for c in esc)
    ret = load_cases(dataset_path("retrieval"), RetrievalCase)
    assert sum(c.answerable for c in ret) >= 60 and sum(not c.answerable for c in ret) >= 10
    comp = load_cases(dataset_path("compliance"), ComplianceCase)
    assert {c.allowed for c in comp} == {True, False}
    assert any(c.id.startswith("cmp-h-") for c in comp) and any(c.channel == "tool" for c in comp)
    inj = load_cases(dataset_path("injection"), InjectionCase)
    kinds = {c.kind for c in inj}
    assert kinds == {"direct", "roleplay", "impersonation", "poisoned_document"}
    assert any(c.leak_probe for c in inj)


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"id": "rt-1", "message": "book a massage", "expected": "solari", "tags": ["x"]})


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD, "", "{not json")
    with pytest.raises(DatasetError, match=rf"{path.name}:3: not valid JSON") as info:
        load_cases(path, RoutingCase)
    assert info.value.line == 3


def test_schema_violation_names_the_field(tmp_path: Path) -> None:
    bad = json.dumps({"id": "rt-2", "message": "hi", "expected": "bob"})
    path = _write(tmp_path, GOOD, bad)
    with pytest.raises(DatasetError, match=r"cases.jsonl:2: expected: Input should be"):
        load_cases(path, RoutingCase)


def test_unknown_field_duplicate_id_and_empty_file(tmp_path: Path) -> None:
    extra = json.dumps({"id": "rt-3", "message": "hi", "expected": "nyra", "colour": "red"})
    with pytest.raises(DatasetError, match=r":1: colour: Extra inputs"):
        load_cases(_write(tmp_path, extra), RoutingCase)
    with pytest.raises(DatasetError, match=r":2: id 'rt-1' already used on line 1"):
        load_cases(_write(tmp_path, GOOD, GOOD), RoutingCase)
    with pytest.raises(DatasetError, match="no cases"):
        load_cases(_write(tmp_path, ""), RoutingCase)
    with pytest.raises(DatasetError, match="cannot read"):
        load_cases(tmp_path / "missing.jsonl", RoutingCase)


def test_alternates_alias_and_cross_field_rules() -> None:
    case = RoutingCase.model_validate(
        {"id": "rt-9", "message": "m", "expected": "nyra", "alternates": ["solari"]}
    )
    assert case.acceptable == ("solari",)
    with pytest.raises(ValueError, match="reason must be 'none'"):
        EscalationCase.model_validate(
            {"id": "esc-1", "turns": ["hi"], "expected_level": 4, "reason": "none"}
        )
    with pytest.raises(ValueError, match="needs expected_source and facts"):
        RetrievalCase.model_validate({"id": "ret-1", "question": "q", "answerable": True})
    with pytest.raises(ValueError, match="tool channel is for personas"):
        ComplianceCase.model_validate(
            {
                "id": "cmp-1",
                "workflow": "WF-WELL-BOOK",
                "from_state": "inquiry",
                "event": "consultation_scheduled",
                "actor": "system",
                "channel": "tool",
                "allowed": False,
            }
        )
    with pytest.raises(ValueError, match="document is given exactly"):
        InjectionCase.model_validate(
            {"id": "inj-1", "kind": "poisoned_document", "turns": ["q"], "leak_probe": True}
        )


def test_limit_keeps_the_first_cases() -> None:
    assert [c.id for c in load_cases(dataset_path("routing"), RoutingCase, limit=3)] == [
        "rt-001",
        "rt-002",
        "rt-003",
    ]
