"""``grace playbooks`` as a user runs it, against a real database (DATABASE_URL)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import psycopg
import pytest
import yaml
from alembic import command
from typer.testing import CliRunner

from api.cli.main import app
from graphs.core import migrate

pytestmark = pytest.mark.integration
cli = CliRunner()


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def _ok(*args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_run_status_rollback_history_analytics(cli_env: str) -> None:
    out = _ok("playbooks", "run", "agency-cycle", "--sample", "--approve-as", "alice")
    assert "marketing_brief" in out and "campaign_planning → " in out
    assert "qualification_score" in out and "completed" in out
    run = json.loads(_ok("playbooks", "run", "lead-to-booking", "--sample", "--json"))
    assert run["status"] == "completed"
    status = json.loads(_ok("playbooks", "status", run["id"], "--json"))
    assert [s["step_id"] for s in status["steps"]][:2] == ["lead_note", "schedule"]
    assert "quote_provided" in _ok("playbooks", "status", run["id"])
    manual = _ok("playbooks", "rollback", run["id"], "--strategy", "manual")
    assert "cannot be undone" in manual and "instructions" in manual
    waiting = json.loads(_ok("playbooks", "run", "kb-article", "-p", "document_id=KB-1", "--json"))
    assert waiting["status"] == "waiting_approval"
    approved = json.loads(
        _ok("playbooks", "approve", waiting["id"], "approve_topic", "--by", "eve", "--json")
    )
    assert approved["status"] == "waiting_approval"  # the expert review is next
    assert json.loads(_ok("playbooks", "cancel", waiting["id"], "--json"))["status"] == "cancelled"
    hist = json.loads(_ok("playbooks", "history", "--json"))
    assert {h["playbook_id"] for h in hist} == {"agency-cycle", "lead-to-booking", "kb-article"}
    stats = {a["playbook_id"]: a for a in json.loads(_ok("playbooks", "analytics", "--json"))}
    assert stats["agency-cycle"]["success_rate"] == 1.0
    assert stats["kb-article"]["cancelled"] == 1


def test_validate_rejects_a_step_its_persona_does_not_own(cli_env: str, tmp_path: Path) -> None:
    data = {"id": "bad", "version": 1, "name": "bad", "description": "bad", "steps": [
        {"id": "s", "kind": "transition", "persona": "nyra", "workflow": "WF-KB-DEV",
         "event": "plan_finalized"}]}  # fmt: skip
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    res = cli.invoke(app, ["playbooks", "validate", str(path), "--level", "standard"])
    assert res.exit_code == 1 and "impossible from 'topic_identification'" in res.output
    data["steps"].insert(0, {"id": "t", "kind": "approval", "persona": "human",
                             "workflow": "WF-KB-DEV", "event": "topic_approved"})  # fmt: skip
    data["steps"][1]["depends_on"] = ["t"]
    path.write_text(yaml.safe_dump(data))
    assert (
        cli.invoke(app, ["playbooks", "validate", str(path), "--level", "standard"]).exit_code == 0
    )
    res = cli.invoke(app, ["playbooks", "validate", str(path), "--json"])
    assert res.exit_code == 1
    assert "nyra does not own WF-KB-DEV plan_finalized (owner: elan)" in res.output
    bad_run = cli.invoke(app, ["playbooks", "run", "lead-to-booking"])
    assert bad_run.exit_code == 1 and "booking_id" in bad_run.output


def test_0007_down_and_up(database_url: str) -> None:
    def tables() -> set[str]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE 'playbook%'"
            ).fetchall()
        return {r[0] for r in rows}

    assert tables() == {
        "playbook_runs",
        "playbook_steps",
        "playbook_rollbacks",
        "playbook_webhooks",
    }
    command.downgrade(migrate.alembic_config(database_url), "0005")
    assert tables() == set()
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == "0007" and len(tables()) == 4


def test_run_ends_with_a_summary_and_a_rollback_hint(cli_env: str) -> None:
    out = _ok("playbooks", "run", "lead-to-booking", "--sample")
    run_id = json.loads(_ok("playbooks", "history", "--json"))[0]["id"]
    assert f"run {run_id} — lead-to-booking v1" in out
    for step in ("lead_note", "schedule", "task_plan", "quote", "summary", "done"):
        assert step in out.split(f"run {run_id} — ")[1]
    status = json.loads(_ok("playbooks", "status", run_id, "--json"))
    moved = sum(1 for s in status["steps"] if s["transition"])
    assert moved > 0
    assert f"completed: 6 of 6 steps completed, {moved} workflow state(s) moved" in out
    assert f"grace playbooks rollback {run_id} --strategy graceful" in out
    waiting = _ok("playbooks", "run", "kb-article", "-p", "document_id=KB-9")
    assert "waiting_approval: 0 of 1 steps completed, 0 workflow state(s) moved" in waiting
    assert "grace playbooks rollback" not in waiting  # nothing to undo yet
    as_json = json.loads(_ok("playbooks", "run", "lead-to-booking", "--sample", "--json"))
    assert as_json["status"] == "completed" and "rollback" not in json.dumps(as_json)


def test_webhooks_add_list_remove(cli_env: str) -> None:
    assert "no webhook endpoints" in _ok("playbooks", "webhooks", "list")
    two = ["-e", "playbook.completed", "-e", "playbook.failed", "--json"]
    added = json.loads(_ok("playbooks", "webhooks", "add", "https://hooks.example.test/a", *two))
    assert added["events"] == ["playbook.completed", "playbook.failed"]
    assert added["secret"].startswith("whsec_")
    every = _ok("playbooks", "webhooks", "add", "http://localhost:9000/b")
    assert "secret (shown once): whsec_" in every and "playbook.rolled_back" in every
    listed = json.loads(_ok("playbooks", "webhooks", "list", "--json"))
    assert [r["url"] for r in listed] == ["https://hooks.example.test/a", "http://localhost:9000/b"]
    assert all("secret" not in r for r in listed)
    assert "hooks.example.test/a" in _ok("playbooks", "webhooks", "list")
    gone = json.loads(_ok("playbooks", "webhooks", "remove", str(added["id"]), "--json"))
    assert gone == {"id": str(added["id"]), "removed": True}
    assert [r["url"] for r in json.loads(_ok("playbooks", "webhooks", "list", "--json"))] == [
        "http://localhost:9000/b"
    ]
    for args, says in [
        (["remove", str(added["id"])], "no active webhook endpoint"),
        (["remove", "not-a-uuid"], "is not an endpoint id"),
        (["add", "ftp://x.test/"], "must be http(s)"),
        (["add", "https://x.test/", "-e", "playbook.exploded"], "unknown event types"),
        (["add", "https://x.test/", "--secret", "whsec_short"], "24 to 64 bytes"),
    ]:
        res = cli.invoke(app, ["playbooks", "webhooks", *args])
        assert res.exit_code == 1 and says in res.output, (args, res.output)
    own = "whsec_" + base64.b64encode(b"k" * 32).decode()
    kept = json.loads(_ok("playbooks", "webhooks", "add", "https://x.test/", "--secret", own,
                          "--json"))  # fmt: skip
    assert kept["secret"] == own
