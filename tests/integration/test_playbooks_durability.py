"""Crash, cancel and rollback of playbook runs on the real database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graphs.core.database import Database
from graphs.playbooks.model import PlaybookError, default_playbooks
from graphs.playbooks.rollback import rollback
from graphs.playbooks.runner import RunStateError
from graphs.playbooks.steps import idempotency_key
from tests.integration.playbook_fixtures import AGENCY_PARAMS, approve_all, runner_on

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


async def test_kill_9_mid_step_then_resume_applies_no_step_twice(
    db: Database, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.playbook_crash_child", db.url, "quote",
         str(marker)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            assert child.poll() is None, "child exited early"
            assert time.monotonic() < deadline, "child never reached the step"
            await asyncio.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    run_id = marker.read_text()
    async with runner_on(db) as runner:
        before = await runner.store.get(run_id)
        assert before.status == "running"
        run = await runner.resume(run_id)
        assert run.status == "completed", run.error
        steps = {s.step_id: s for s in run.steps}
        assert steps["quote"].executions == 2  # the body ran again after the crash...
        assert steps["quote"].transition is not None and steps["quote"].transition["replayed"]
        assert all(s.executions == 1 for k, s in steps.items() if k != "quote")
        history = await runner.engine.history(run.instances["WF-WELL-BOOK"])
        keys = [h.idempotency_key for h in history if h.event != "start"]
        # ...but each transition is in the audit exactly once
        assert keys == [idempotency_key(run_id, "schedule"), idempotency_key(run_id, "quote")]
        assert (await runner.engine.get(run.instances["WF-WELL-BOOK"])).state == "quote_provided"


async def test_cancel_a_running_run_stops_before_its_next_steps(db: Database) -> None:
    async with runner_on(db) as runner:

        async def cancel_after(run_id: str, step_id: str) -> None:
            if step_id == "schedule":
                await runner.store.request_cancel(run_id)

        runner.services.after_apply = cancel_after
        run = await runner.start("lead-to-booking", {"booking_id": "B-1"})
        assert run.status == "cancelled"
        assert [s.step_id for s in run.steps] == ["lead_note", "schedule"]


async def _agency_at_content_approval(runner):  # type: ignore[no-untyped-def]
    run = await runner.start("agency-cycle", AGENCY_PARAMS)
    run = await runner.approve(run.id, "approve_plan", by="alice")
    assert [g["step"] for g in await runner.pending(run.id)] == ["approve_content"]
    return run


async def test_immediate_rollback_undoes_the_reversible_step_then_stops(db: Database) -> None:
    async with runner_on(db) as runner:
        run = await _agency_at_content_approval(runner)
        report = await rollback(runner, run.id, "immediate", by="carol")
        assert [u["step"] for u in report.undone] == ["campaign_content"]
        assert report.undone[0]["actor"] == "human:carol"
        assert report.outcome == "stopped" and report.stopped_at == "segments"
        assert "no compensation" in (report.reason or "")
        inst = await runner.engine.get(run.instances["WF-MKTG-CAMP"])
        assert inst.state == "content_creation"
        after = await runner.store.get(run.id)
        assert after.status == "cancelled"
        assert {s.step_id: s.status for s in after.steps}["campaign_content"] == "compensated"
        again = await rollback(runner, run.id, "immediate", by="carol")
        assert again.undone == [] and again.stopped_at == "segments"


async def test_graceful_rollback_of_a_fully_reversible_tail_marks_the_run(db: Database) -> None:
    async with runner_on(db) as runner:
        run = await approve_all(runner, await runner.start("agency-cycle", AGENCY_PARAMS))
        report = await rollback(runner, run.id, "graceful")
        # the newest state change (feedback received) has no way back: nothing moves
        assert report.outcome == "stopped" and report.stopped_at == "feedback_in"
        assert report.undone == [] and "offer_recommendations" in report.skipped


async def test_checkpoint_rollback_undoes_only_steps_after_the_mark(db: Database) -> None:
    async with runner_on(db) as runner:

        async def stop_after(run_id: str, step_id: str) -> None:
            if step_id == "midpoint_review":
                await runner.store.request_cancel(run_id)

        runner.services.after_apply = stop_after
        run = await approve_all(runner, await runner.start("agency-cycle", AGENCY_PARAMS))
        assert run.status == "cancelled"
        with pytest.raises(PlaybookError):
            await rollback(runner, run.id, "checkpoint", checkpoint="nope")
        with pytest.raises(RunStateError):
            await rollback(runner, run.id, "checkpoint", checkpoint="delivered")
        report = await rollback(runner, run.id, "checkpoint", checkpoint="contract_signed")
        assert report.outcome == "stopped" and report.stopped_at == "kickoff"
        assert [u["step"] for u in report.undone] == ["midpoint_review"]
        # back to the later mark: the one step after it was already undone, so nothing moves
        report = await rollback(runner, run.id, "checkpoint", checkpoint="kicked_off")
        assert report.outcome == "done" and report.undone == []
        consult = await runner.engine.get(run.instances["WF-CONSULT"])
        assert consult.state == "execution"
        assert (await runner.store.get(run.id)).status == "rolled_back"


async def test_manual_rollback_changes_nothing_and_prints_commands(db: Database) -> None:
    async with runner_on(db) as runner:
        run = await _agency_at_content_approval(runner)
        report = await rollback(runner, run.id, "manual", by="dana")
        assert report.outcome == "instructions"
        iid = run.instances["WF-MKTG-CAMP"]
        assert report.instructions[0] == (
            f"grace workflows fire {iid} revisions_needed --as human:dana"
        )
        assert report.instructions[1].startswith("# segments: cannot be undone")
        assert (await runner.engine.get(iid)).state == "content_approval"
        assert (await runner.store.get(run.id)).status == "waiting_approval"


@pytest.mark.parametrize("playbook_id", [pb.id for pb in default_playbooks()])
async def test_every_builtin_passes_paranoid(db: Database, playbook_id: str) -> None:
    from graphs.playbooks.dryrun import dry_run

    report = await dry_run(default_playbooks().get(playbook_id), db.url)
    assert report.ok, [str(i) for i in report.issues]
    assert report.final_states
