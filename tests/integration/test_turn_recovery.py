"""Turn leases between replicas: a running turn is never taken over, a lost one exactly once."""

from __future__ import annotations

import asyncio

import pytest

from agents.testing import HashingEmbedder, ScriptedChatModel, SlowChatModel, StubRouter
from graphs.core.database import Database
from graphs.inbox import InboxMessage, ThreadInbox
from graphs.runtime import GraceRuntime
from graphs.turn_recovery import TurnSweeper

pytestmark = pytest.mark.integration


async def _replica(db: Database, owner: str, model: object, lease_s: float) -> GraceRuntime:
    rt = await GraceRuntime.open(
        db=db, model=model, embedder=HashingEmbedder(256), router=StubRouter(default="nyra")
    )
    rt.inbox = ThreadInbox(db, owner=owner, lease_s=lease_s)
    return rt


def _users(view: object) -> list[str]:
    return [m["content"] for m in view.messages if m["role"] == "user"]  # type: ignore[attr-defined]


async def test_a_running_turn_keeps_its_lease_and_is_not_taken_over(db: Database) -> None:
    a = await _replica(db, "replica-a", SlowChatModel(delay_s=1.5, reply="From A."), 0.6)
    b_model = ScriptedChatModel(default="From B.")
    b = await _replica(db, "replica-b", b_model, 0.6)
    try:
        turn = asyncio.create_task(a.ask("Is the café open?", thread_id="t-lease"))
        await asyncio.sleep(1.2)  # twice the lease: only renewals keep it
        assert await TurnSweeper(b).sweep_once() == []
        assert (await turn).reply == "From A."
        assert b_model.calls == []
        view = await a.thread("t-lease")
        assert view is not None and _users(view) == ["Is the café open?"]
        assert await a.inbox.open_turn("t-lease") is None  # settled
    finally:
        await a.close()
        await b.close()


async def test_two_replicas_sweeping_at_once_finish_a_lost_turn_once(db: Database) -> None:
    models = [ScriptedChatModel(default="From A."), ScriptedChatModel(default="From B.")]
    a = await _replica(db, "replica-a", models[0], 5.0)
    b = await _replica(db, "replica-b", models[1], 5.0)
    try:
        dead = ThreadInbox(db, owner="replica-dead", lease_s=0.0)
        await dead.swap("t-lost", InboxMessage("m-lost", "Do you frame prints?", None, "client"))
        found = await asyncio.gather(TurnSweeper(a).sweep_once(), TurnSweeper(b).sweep_once())
        assert sorted(found) == [[], ["t-lost"]]
        assert len(models[0].calls) + len(models[1].calls) == 1
        view = await a.thread("t-lost")
        assert view is not None and _users(view) == ["Do you frame prints?"]
        assert await a.inbox.open_turn("t-lost") is None
    finally:
        await a.close()
        await b.close()


async def test_a_turn_that_keeps_failing_is_given_up_after_max_attempts(db: Database) -> None:
    a = await _replica(db, "replica-a", ScriptedChatModel(), 0.0)  # empty script: every call fails
    try:
        await ThreadInbox(db, owner="replica-dead", lease_s=0.0).swap(
            "t-bad", InboxMessage("m-bad", "Can I book a massage?", None, "client")
        )
        sweeper = TurnSweeper(a, max_attempts=2)
        for _ in range(2):
            assert await sweeper.sweep_once() == []  # fails; the lease (0 s) lapses at once
        assert (await a.inbox.open_turn("t-bad")) is not None
        assert await sweeper.sweep_once() == []  # attempts used up: given up
        assert await a.inbox.open_turn("t-bad") is None
    finally:
        await a.close()


async def test_with_async_durability_turns_are_leased_and_swept_too(db: Database) -> None:
    from graphs.core.settings import Settings

    rt = await GraceRuntime.open(
        Settings(checkpoint_durability="async"), db=db, model=ScriptedChatModel(default="Ok."),
        embedder=HashingEmbedder(256), router=StubRouter(default="nyra"),
    )  # fmt: skip
    try:
        await rt.ask("first", thread_id="t-async", message_id="m-1")
        latest = await rt.inbox.latest("t-async")
        assert latest is not None and latest.id == "m-1"
        assert await rt.inbox.open_turn("t-async") is None  # ended: settled
        # a second message whose process died before its first checkpoint
        dead = ThreadInbox(db, owner="replica-dead", lease_s=0.0)
        await dead.swap("t-async", InboxMessage("m-2", "second", None, "client"))
        assert await TurnSweeper(rt).sweep_once() == ["t-async"]
        view = await rt.thread("t-async")
        assert view is not None and _users(view) == ["first", "second"]
    finally:
        await rt.close()


async def test_a_new_message_goes_ahead_of_a_dead_local_owners_lease(db: Database) -> None:
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    rt = await _replica(db, "replica-a", ScriptedChatModel(default="Ok."), 30.0)
    try:
        dead = ThreadInbox(db, owner=f"{socket.gethostname()}:{gone.pid}:old", lease_s=30.0)
        await dead.swap("t-dead", InboxMessage("m-cut", "cut off", None, "client"))
        # its lease runs for 30 s more, but its process is gone: no 409, the cut-off turn
        # runs first, then the new one
        await rt.ask("next", thread_id="t-dead")
        view = await rt.thread("t-dead")
        assert view is not None and _users(view) == ["cut off", "next"]
    finally:
        await rt.close()
