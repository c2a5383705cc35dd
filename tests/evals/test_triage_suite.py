"""Calibration metrics and the triage suite's scoring, on hand-made predictions."""

from __future__ import annotations

import pytest

from evals.metrics.calibration import expected_calibration_error, reliability_table
from evals.suites.base import Evaluated
from evals.suites.triage import TriagePrediction, frozen_hash_ok, score, split_path, thread_state
from graphs.triage.schema import TriageExample


def test_ece_by_hand() -> None:
    # bin 0.9-1.0: confidence 0.95, accuracy 1/2 -> |0.5 - 0.95| * 2/4; bin 0.2-0.3: 0.25 vs 0
    conf, ok = [0.95, 0.95, 0.25, 0.25], [True, False, False, False]
    assert expected_calibration_error(conf, ok) == pytest.approx(0.5 * 0.45 + 0.5 * 0.25)
    assert expected_calibration_error([], []) == 0.0
    with pytest.raises(ValueError):
        expected_calibration_error([0.5], [])


def test_reliability_table_rows() -> None:
    rows = reliability_table([0.05, 0.15, 0.95, 0.95], [False, False, True, True])
    assert [r["count"] for r in rows] == [1, 1, 2]
    assert rows[-1]["accuracy"] == 1.0 and rows[-1]["mean_confidence"] == 0.95


def example(i: str, level: int, act: str = "request", intents: int = 1) -> TriageExample:
    return TriageExample.model_validate(
        {
            "id": i,
            "text": f"message {i}",
            "persona": "solari",
            "alternates": [],
            "level": level,
            "risk": "medical" if level == 4 else "none",
            "act": act,
            "intents": intents,
        }
    )


def run(case: TriageExample, out: TriagePrediction) -> Evaluated[TriageExample, TriagePrediction]:
    return Evaluated(
        case_id=case.id,
        inputs=case,
        output=out,
        assertions={
            "PersonaTop1": out.persona == case.persona,
            "LevelExact": out.level == case.level,
            "ActMatch": out.act == case.act,
        },
        run=1,
    )


def test_score_lists_every_under_escalation_and_counts_question_firings() -> None:
    cases = [example("a", 4), example("b", 4), example("c", 1, "question"), example("d", 1)]
    outs = [
        TriagePrediction("solari", 0.9, 4, "request", False, 0.9, 2.0),
        TriagePrediction("solari", 0.8, 1, "request", False, 0.1, 3.0),  # under-escalated
        TriagePrediction("solari", 0.7, 1, "question", False, 0.0, 4.0, fired=1),
        TriagePrediction("atlas", 0.6, 4, "request", True, 0.5, 5.0),  # over-escalated
    ]
    result = score([run(c, o) for c, o in zip(cases, outs, strict=True)])
    m = result.metrics
    assert m["level4_recall"] == 0.5 and m["level1_to_level4"] == 0.5
    assert m["transitions_fired_by_question"] == 1.0 and m["false_multi_intent"] == 0.25
    assert m["persona_top1"] == 0.75 and m["triage_p50_ms"] == 3.5
    assert [u["id"] for u in result.details["under_escalations"]] == ["b"]
    assert {f.id for f in result.failures} == {"b", "d"}


def test_thread_state_from_context() -> None:
    case = TriageExample.model_validate(
        {
            "id": "x",
            "text": "Yes please",
            "persona": "grace",
            "level": 4,
            "risk": "human_request",
            "act": "confirmation",
            "context": [
                {"role": "assistant", "agent": "solari", "text": "Shall I pass this to a manager?"}
            ],
        }
    )
    state = thread_state(case)
    assert state["current_persona"] == "solari" and state["pending"]["kind"] == "handover"
    assert thread_state(example("y", 1)) == {"current_persona": None, "turn": 1, "pending": None}


def test_frozen_hash_check(tmp_path: object) -> None:
    assert frozen_hash_ok(split_path("dev")) is None  # dev has no recorded hash
