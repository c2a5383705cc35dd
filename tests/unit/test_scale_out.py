"""Scale-out pieces that need no server: backoff, worker options, events, CLI guards."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.worker import INGEST_FUNCTION, MAX_BACKOFF_S, backoff_s, worker_options
from graphs.core.events import escalation_resolved, events_from_turn
from graphs.core.settings import Settings

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


def test_events_from_turn() -> None:
    turn = {
        "thread_id": "t1",
        "turn": 2,
        "actions": [{"workflow_id": "WF-X", "event": "go", "to_state": "b"}],
        "refusals": [{"event": "stop", "reason": "not owner"}],
        "escalation": {"id": "e1", "level": 4},
    }
    events = events_from_turn(turn)
    assert [e.type for e in events] == [
        "transition.applied",
        "transition.refused",
        "escalation.created",
    ]
    assert events[0].data == {"thread_id": "t1", "turn": 2, "workflow_id": "WF-X",
                              "event": "go", "to_state": "b"}  # fmt: skip
    assert events[2].data["id"] == "e1"
    assert events_from_turn({"thread_id": "t", "turn": 1}) == []
    assert escalation_resolved({"id": "e1", "status": "approved"}).type == "escalation.resolved"


@pytest.mark.parametrize("command", [["worker"], ["bench", "scale"]])
def test_commands_needing_redis_say_so(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 3
    assert "REDIS_URL" in result.output
