"""The typed turn result (graphs/turn_result.py): its JSON form reads back to the same value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

from api.schemas.chat import ChatResponse
from graphs.escalation_store import EscalationRecord
from graphs.turn_result import TurnResult, new_thread_id


def _escalation() -> EscalationRecord:
    return EscalationRecord(
        id=uuid4(), thread_id="t-1", turn=2, interrupt_id="i-1", kind="handoff", level=4,
        persona="solari", workflow_id=None, instance_id=uuid4(), event=None,
        reasons=["human_request"], summary="wants a person", status="pending",
        decided_by=None, note=None, created_at=datetime.now(UTC), resolved_at=None,
    )  # fmt: skip


def test_a_stored_result_reads_back_equal() -> None:
    turn = TurnResult(
        thread_id="t-1", turn=2, reply="", persona=None, level=4, reasons=["human_request"],
        route={"persona": "solari"}, actions=[{"event": "x"}], escalation=_escalation(),
    )  # fmt: skip
    stored = json.loads(json.dumps(turn.to_dict()))  # what the inbox keeps for a key
    assert TurnResult.from_dict(stored) == turn


def test_the_api_schema_reads_the_typed_result() -> None:
    esc = _escalation()
    turn = TurnResult(thread_id="t-1", turn=2, reply="", persona="grace", level=4,
                      escalation=esc)  # fmt: skip
    body = ChatResponse.from_turn(turn)
    assert body.persona == "grace" and body.escalation is not None
    assert body.escalation.id == str(esc.id)


def test_thread_ids_have_one_shape() -> None:
    tid = new_thread_id()
    assert tid.startswith("t-") and len(tid) == 14
