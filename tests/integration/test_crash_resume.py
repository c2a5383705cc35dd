"""Durability: a process killed with SIGKILL mid-turn resumes with nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from agents.testing import HashingEmbedder, ScriptedChatModel, StubRouter
from graphs.core.database import Database
from graphs.runtime import GraceRuntime, ThreadBusyError
from graphs.turn_gate import graph_config
from graphs.workflows.engine import WorkflowEngine

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


async def test_sigkill_mid_turn_then_resume(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    engine = WorkflowEngine(db)
    case = await engine.start("WF-WELL-BOOK", "booking:B-77")
    marker = tmp_path / "marker"
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.crash_child",
            "t-crash",
            str(case.id),
            str(marker),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert child.poll() is None, child.stdout.read().decode() if child.stdout else ""
        assert time.monotonic() < deadline, "child never reached the middle of the turn"
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    # The transition was applied before the crash, exactly once.
    assert (await engine.get(case.id)).state == "consultation"

    model = ScriptedChatModel(["Your consultation is booked."])
    rt = await GraceRuntime.open(
        db=db, model=model, embedder=HashingEmbedder(256), router=StubRouter(default="nyra")
    )
    turn = await rt.recover("t-crash")
    assert turn is not None and turn.reply == "Your consultation is booked."
    history = await engine.history(case.id)
    assert [h.event for h in history] == ["start", "consultation_scheduled"]
    snap = await rt.graph.aget_state(graph_config("t-crash"))
    humans = [m for m in snap.values["messages"] if isinstance(m, HumanMessage)]
    assert [m.content for m in humans] == ["Please schedule my consultation, booking B-77"]
    assert await rt.recover("t-crash") is None  # nothing left to finish


async def test_a_message_cut_off_before_any_checkpoint_runs_on_recovery(db: Database) -> None:
    """Durability ``exit``: the inbox holds a message whose turn never checkpointed."""
    from graphs.inbox import InboxMessage

    model = ScriptedChatModel(["First answer.", "Second answer.", "Third answer."])
    rt = await GraceRuntime.open(
        db=db, model=model, embedder=HashingEmbedder(256), router=StubRouter(default="nyra")
    )
    assert rt.deps.settings.checkpoint_durability == "exit"
    # a crash right after the message was received: in the inbox, not in any checkpoint
    cut = InboxMessage("m-1", "hello, are you open on Sunday?", None, "client")
    await rt.inbox.swap("t-cut", cut)
    turn = await rt.recover("t-cut")
    assert turn is not None and turn.reply == "First answer."
    assert await rt.recover("t-cut") is None
    # the same holds when the next message arrives before anyone called recover
    await rt.inbox.swap("t-cut2", InboxMessage("m-2", "first message", None, "client"))
    nxt = await rt.ask("second message", thread_id="t-cut2")
    assert nxt.reply == "Third answer."  # the cut-off message got "Second answer." first
    view = await rt.thread("t-cut2")
    assert view is not None
    assert [m["content"] for m in view.messages if m["role"] == "user"] == [
        "first message",
        "second message",
    ]


async def test_settled_shortcut_sees_turns_taken_by_another_replica(db: Database) -> None:
    """A runtime skips the state read only while no other process touched the thread."""
    a = await GraceRuntime.open(
        db=db,
        model=ScriptedChatModel(default="From A."),
        embedder=HashingEmbedder(256),
        router=StubRouter(default="nyra"),
    )
    b = await GraceRuntime.open(
        db=db,
        model=ScriptedChatModel(default="From B."),
        embedder=HashingEmbedder(256),
        router=StubRouter(default="nyra"),
    )
    try:
        await a.ask("one", thread_id="t-two")
        assert "t-two" in a.gate._settled
        await b.ask("two", thread_id="t-two")  # another replica takes a turn
        third = await a.ask("three", thread_id="t-two")
        assert third.turn == 3 and third.reply == "From A."
        view = await a.thread("t-two")
        assert view is not None
        assert [m["content"] for m in view.messages if m["role"] == "user"] == [
            "one",
            "two",
            "three",
        ]

        # B's next turn pauses for a person: A's remembered state is stale, so A must refuse
        # the thread and put B's message back as the latest (recovery still sees it).
        paused = await b.ask("I want to talk to a real person", thread_id="t-two")
        assert paused.escalation is not None
        assert "t-two" in a.gate._settled  # A still remembers its own turn three
        with pytest.raises(ThreadBusyError):
            await a.ask("are you there?", thread_id="t-two")
        latest = await a.inbox.latest("t-two")
        assert latest is not None and latest.content == "I want to talk to a real person"
    finally:
        await a.close()
        await b.close()
