"""Scale-out pieces that need no server: backoff, worker options, events, CLI guards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from evals.cli.main import app
from graphs.bus_events import events_from_turn
from graphs.core.events import escalation_resolved
from graphs.core.settings import Settings
from graphs.escalation_store import EscalationRecord
from graphs.runtime import TurnResult
from knowledge.worker import INGEST_FUNCTION, MAX_BACKOFF_S, backoff_s, worker_options

runner = CliRunner()


def test_backoff_doubles_per_try_and_is_capped() -> None:
    assert [backoff_s(t, 2.0) for t in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff_s(30, 2.0) == MAX_BACKOFF_S


def test_worker_options_allow_one_try_more_for_dead_lettering() -> None:
    settings = Settings(REDIS_URL="redis://127.0.0.1:6379/0", job_max_tries=3, queue_name="q")
    options = worker_options(settings, burst=True)
    (function,) = options["functions"]
    assert function.name == INGEST_FUNCTION and function.max_tries == 4
    assert options["queue_name"] == "q" and options["burst"] is True
    with pytest.raises(ValueError, match="REDIS_URL"):
        worker_options(Settings())


def _escalation(**changes: Any) -> EscalationRecord:
    fields: dict[str, Any] = {
        "id": UUID(int=1), "thread_id": "t1", "turn": 2, "interrupt_id": "i1", "kind": "handoff",
        "level": 4, "persona": None, "workflow_id": None, "instance_id": None, "event": None,
        "reasons": ["legal"], "summary": "needs a person", "status": "pending",
        "decided_by": None, "note": None, "created_at": datetime(2026, 1, 2, tzinfo=UTC),
        "resolved_at": None,
    }  # fmt: skip
    return EscalationRecord(**{**fields, **changes})


def test_events_from_turn_reads_the_typed_result() -> None:
    turn = TurnResult(
        thread_id="t1",
        turn=2,
        reply="",
        persona=None,
        level=4,
        actions=[{"workflow_id": "WF-X", "event": "go", "to_state": "b"}],
        refusals=[{"event": "stop", "reason": "not owner"}],
        escalation=_escalation(),
    )
    events = events_from_turn(turn)
    assert [e.type for e in events] == [
        "transition.applied",
        "transition.refused",
        "escalation.created",
    ]
    assert events[0].data == {"thread_id": "t1", "turn": 2, "workflow_id": "WF-X",
                              "event": "go", "to_state": "b"}  # fmt: skip
    assert events[1].data["reason"] == "not owner"
    created = events[2].data
    assert created["id"] == str(UUID(int=1)) and created["summary"] == "needs a person"
    assert created["created_at"] == "2026-01-02T00:00:00+00:00"
    quiet = TurnResult(thread_id="t", turn=1, reply="hi", persona="grace", level=1)
    assert events_from_turn(quiet) == []
    resolved = escalation_resolved(_escalation(status="approved").to_dict())
    assert resolved.type == "escalation.resolved" and resolved.data["status"] == "approved"


@pytest.mark.parametrize("command", [["worker"], ["bench", "scale"]])
def test_commands_needing_redis_say_so(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 3
    assert "REDIS_URL" in result.output
