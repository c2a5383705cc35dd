"""Races on one instance: exactly one writer wins, the loser gets a conflict, audit has one row."""

from __future__ import annotations

import asyncio

import pytest

from graphs.core.database import Database
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import ConcurrentUpdateError, InvalidTransitionError
from graphs.workflows.records import Instance

pytestmark = pytest.mark.integration


async def _campaign_in_monitoring(engine: WorkflowEngine) -> Instance:
    inst = await engine.start("WF-MKTG-CAMP", "campaign:spring")
    steps = [
        ("plan_approved", "human"),
        ("segments_defined", "zevi"),
        ("content_ready", "elan"),
        ("content_approved", "human"),
        ("channels_configured", "liora"),
        ("campaign_launched", "liora"),
    ]
    for event, actor in steps:
        await engine.apply(inst.id, event, actor)
    return await engine.get(inst.id)


async def _audit_rows(db: Database, inst: Instance) -> int:
    async with db.connection() as c:
        row = await (
            await c.execute(
                "SELECT count(*) FROM workflow_audit WHERE instance_id = %s", (inst.id,)
            )
        ).fetchone()
    assert row is not None
    return int(row[0])


async def _wait_until_blocked(db: Database, n: int = 1) -> None:
    """Wait until ``n`` backends are waiting on a row lock."""
    for _ in range(500):
        async with db.connection() as c:
            row = await (
                await c.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).fetchone()
        if row and row[0] >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second apply never blocked on the row lock")


async def test_loser_of_a_row_lock_race_gets_conflict(db: Database) -> None:
    """Deterministic race: A holds the row lock uncommitted while B tries the same instance."""
    engine = WorkflowEngine(db)
    inst = await _campaign_in_monitoring(engine)
    before = await _audit_rows(db, inst)
    async with db.connection() as conn_a:
        await conn_a.execute("BEGIN")
        won = await engine.apply(inst.id, "optimization_needed", "liora", conn=conn_a)
        loser = asyncio.create_task(engine.apply(inst.id, "campaign_ending", "liora"))
        await _wait_until_blocked(db)
        await conn_a.execute("COMMIT")
        with pytest.raises(ConcurrentUpdateError):
            await loser
    assert won.to_state == "optimization"
    now = await engine.get(inst.id)
    assert (now.state, now.version) == ("optimization", inst.version + 1)
    assert await _audit_rows(db, inst) == before + 1


async def test_same_idempotency_key_racing_replays_instead_of_conflict(db: Database) -> None:
    engine = WorkflowEngine(db)
    inst = await _campaign_in_monitoring(engine)
    before = await _audit_rows(db, inst)
    async with db.connection() as conn_a:
        await conn_a.execute("BEGIN")
        first = await engine.apply(inst.id, "campaign_ending", "liora", "k-race", conn=conn_a)
        second = asyncio.create_task(engine.apply(inst.id, "campaign_ending", "liora", "k-race"))
        await _wait_until_blocked(db)
        await conn_a.execute("COMMIT")
        replay = await second
    assert replay.replayed and replay.audit_id == first.audit_id
    assert await _audit_rows(db, inst) == before + 1


@pytest.mark.parametrize("rounds", [10])
async def test_free_running_concurrent_applies_have_one_winner(db: Database, rounds: int) -> None:
    """Two events from the same state fired at once, many times: one wins each round."""
    engine = WorkflowEngine(db)
    for _ in range(rounds):
        inst = await _campaign_in_monitoring(engine)
        before = await _audit_rows(db, inst)
        results = await asyncio.gather(
            engine.apply(inst.id, "optimization_needed", "liora"),
            engine.apply(inst.id, "campaign_ending", "liora"),
            return_exceptions=True,
        )
        wins = [r for r in results if not isinstance(r, BaseException)]
        losses = [r for r in results if isinstance(r, BaseException)]
        assert len(wins) == 1 and len(losses) == 1
        # The loser either lost the lock race or read the winner's committed state.
        assert isinstance(losses[0], (ConcurrentUpdateError, InvalidTransitionError))
        assert await _audit_rows(db, inst) == before + 1
        assert (await engine.get(inst.id)).state == wins[0].to_state
