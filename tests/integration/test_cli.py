"""The ``grace`` CLI as a user runs it, against a real database (DATABASE_URL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.cli.main import app

pytestmark = pytest.mark.integration

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_start_fire_history_round_trip(cli_env: str) -> None:
    inst = json.loads(
        _ok("workflows", "start", "WF-WELL-BOOK", "--subject", "booking:B-9", "--json")
    )
    assert inst["state"] == "inquiry" and inst["subject"] == "booking:B-9"
    iid = inst["id"]

    out = _ok("workflows", "fire", iid, "consultation_scheduled", "--as", "nyra")
    assert "inquiry → consultation" in out

    refused = runner.invoke(
        app, ["workflows", "fire", iid, "consultation_completed", "--as", "nyra"]
    )
    assert refused.exit_code == 1
    assert "only solari owns this step" in refused.output

    human = runner.invoke(
        app, ["workflows", "fire", iid, "consultation_completed", "--as", "solari", "--json"]
    )
    assert json.loads(human.output)["to_state"] == "quote_provided"
    needs_person = runner.invoke(
        app, ["workflows", "fire", iid, "client_accepted_quote", "--as", "solari"]
    )
    assert needs_person.exit_code == 1 and "human approval" in needs_person.output

    accept = ["workflows", "fire", iid, "client_accepted_quote", "--as", "human:maria"]
    accept += ["--payload", '{"quote": "Q-77"}', "--idempotency-key", "k1", "--json"]
    res = json.loads(_ok(*accept))
    replay = json.loads(_ok(*accept))
    assert replay["replayed"] and replay["audit_id"] == res["audit_id"]

    hist = json.loads(_ok("workflows", "history", iid, "--json"))
    assert [h["event"] for h in hist["history"]] == [
        "start",
        "consultation_scheduled",
        "consultation_completed",
        "client_accepted_quote",
    ]
    assert hist["history"][-1]["payload"] == {"quote": "Q-77"}
    table = _ok("workflows", "history", iid)
    assert "payment_received" in table  # next possible events are listed

    listing = json.loads(_ok("workflows", "instances", "--workflow", "WF-WELL-BOOK", "--json"))
    assert [i["id"] for i in listing] == [iid]


def test_bad_input_gives_clear_errors(cli_env: str) -> None:
    bad_json = runner.invoke(
        app, ["workflows", "start", "WF-WELL-BOOK", "--subject", "b:1", "--data", "{nope"]
    )
    assert bad_json.exit_code == 1 and "not valid JSON" in bad_json.output
    unknown = runner.invoke(app, ["workflows", "show", "WF-NOPE"])
    assert unknown.exit_code == 1 and "unknown workflow" in unknown.output
    missing = runner.invoke(
        app, ["workflows", "fire", "00000000-0000-0000-0000-000000000000", "x", "--as", "nyra"]
    )
    assert missing.exit_code == 1 and "no workflow instance" in missing.output


def test_db_status_and_upgrade(cli_env: str) -> None:
    status = json.loads(_ok("db", "status", "--json"))
    assert status["up_to_date"] is True and status["embedded"] is False
    assert status["language_model"]["provider"] == "offline"
    assert "language model" in _ok("db", "status") and "offline" in _ok("db", "status")
    assert "Already at the latest migration" in _ok("db", "upgrade")


def test_definitions_commands_need_no_database() -> None:
    rows = json.loads(_ok("workflows", "list", "--json"))
    assert len(rows) == 14 and sum(r["transitions"] for r in rows) == 194
    shown = json.loads(_ok("workflows", "show", "wf-kb-dev", "--json"))
    assert shown["id"] == "WF-KB-DEV" and len(shown["transitions"]) == 16
    assert _ok("workflows", "diagram", "WF-KB-DEV").startswith("stateDiagram-v2")


def test_bench_workflows_writes_json_and_table(cli_env: str, tmp_path: Path) -> None:
    out = _ok(
        "bench", "workflows", "--transitions", "200", "--concurrency", "4", "--out", str(tmp_path)
    )
    assert "single_client" in out and "concurrent_4" in out
    (report,) = tmp_path.glob("workflows-*.json")
    data = json.loads(report.read_text())
    names = [s["name"] for s in data["scenarios"]]
    assert names == ["single_client", "concurrent_4"]
    assert all(s["throughput_per_s"] > 0 and s["latency"]["count"] > 0 for s in data["scenarios"])
    assert list(tmp_path.glob("workflows-*.md"))


def test_demo_runs_end_to_end(cli_env: str) -> None:
    out = " ".join(_ok("demo").split())  # rich wraps lines at the test terminal width
    assert "every document went through WF-KB-DEV" in out
    assert "consultation_scheduled" in out  # an owned transition applied (Nyra)
    assert "✗" in out  # a refused step
    assert "source" in out  # an Atlas answer with citations
    assert "Waiting for a person" in out  # level 4
    assert "client_accepted_quote" in out and "human:maria" in out  # resolved and resumed
