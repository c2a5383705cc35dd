"""Grace offers a fitting playbook to staff in chat; a yes starts it, a no leaves it."""

from __future__ import annotations

from typing import Any

import pytest

from agents.testing import HashingEmbedder, StubRouter
from graphs.core.database import Database
from graphs.playbooks.offers import PlaybookOffers
from graphs.playbooks.store import PlaybookStore
from graphs.runtime import GraceRuntime
from graphs.turn_gate import graph_config

pytestmark = pytest.mark.integration
ASK = "Publish a knowledge article on the cancellation policy, document KB-31."


async def _runtime(db: Database, encoder: Any) -> GraceRuntime:
    return await GraceRuntime.open(db=db, model=None, embedder=HashingEmbedder(256),
                                   router=StubRouter(default="elan"),
                                   offers=PlaybookOffers(encoder))  # fmt: skip


async def _pending(rt: GraceRuntime, thread_id: str) -> Any:
    snap = await rt.graph.aget_state(graph_config(thread_id))
    return snap.values.get("pending")


async def test_staff_offer_then_yes_starts_the_run(db: Database, local_embedder: Any) -> None:
    async with await _runtime(db, local_embedder) as rt:
        turn = await rt.ask(ASK, thread_id="t-pb-yes", audience="staff")
        assert turn.reply.endswith("Shall I start it?")
        assert "I can run the playbook Knowledge article publication (kb-article)" in turn.reply
        assert "for document_id=KB-31" in turn.reply
        pending = await _pending(rt, "t-pb-yes")
        assert pending["kind"] == "playbook" and pending["playbook"] == "kb-article"
        assert pending["params"]["document_id"] == "KB-31"
        view = await rt.thread("t-pb-yes")
        assert view is not None and view.messages[-1]["content"].endswith("Shall I start it?")

        yes = await rt.ask("Yes, please.", thread_id="t-pb-yes", audience="staff")
        runs = await PlaybookStore(db).history("kb-article")
        assert len(runs) == 1
        run = runs[0]
        assert f"run {run.id}" in yes.reply and f"grace playbooks status {run.id}" in yes.reply
        assert run.requested_by == "chat:t-pb-yes:2" and run.params["document_id"] == "KB-31"
        assert await _pending(rt, "t-pb-yes") is None
        assert rt.deps.playbooks is not None
        await rt.deps.playbooks.drain()
        assert (await PlaybookStore(db).get(run.id)).status == "waiting_approval"
        # The same accepting turn re-run (a crash) finds its run instead of starting another.
        again = await rt.deps.playbooks.start(pending, thread_id="t-pb-yes", turn=2)
        assert str(run.id) in again and len(await PlaybookStore(db).history()) == 1


async def test_client_gets_no_offer(db: Database, local_embedder: Any) -> None:
    async with await _runtime(db, local_embedder) as rt:
        turn = await rt.ask(ASK, thread_id="t-pb-client", audience="client")
        assert "playbook" not in turn.reply
        pending = await _pending(rt, "t-pb-client")
        assert not pending or pending.get("kind") != "playbook"
        await rt.ask("Yes, please.", thread_id="t-pb-client", audience="client")
        assert await PlaybookStore(db).history() == []


async def test_no_clears_the_offer_and_starts_nothing(db: Database, local_embedder: Any) -> None:
    async with await _runtime(db, local_embedder) as rt:
        await rt.ask(ASK, thread_id="t-pb-no", audience="staff")
        assert (await _pending(rt, "t-pb-no"))["kind"] == "playbook"
        no = await rt.ask("No, thanks.", thread_id="t-pb-no", audience="staff")
        assert "left it as it is" in no.reply
        assert await _pending(rt, "t-pb-no") is None
        assert await PlaybookStore(db).history() == []


async def test_missing_parameters_are_named_not_offered(db: Database, local_embedder: Any) -> None:
    async with await _runtime(db, local_embedder) as rt:
        turn = await rt.ask("Publish a knowledge article on the cancellation policy.",
                            thread_id="t-pb-miss", audience="staff")  # fmt: skip
        assert "it needs document_id: grace playbooks run kb-article --param" in turn.reply
        pending = await _pending(rt, "t-pb-miss")
        assert not pending or pending.get("kind") != "playbook"
        unrelated = await rt.ask("What time does the gallery open on Sundays?",
                                 thread_id="t-pb-miss-2", audience="staff")  # fmt: skip
        assert "playbook" not in unrelated.reply


async def test_streamed_turn_ends_with_the_offer(db: Database, local_embedder: Any) -> None:
    async with await _runtime(db, local_embedder) as rt:
        events = [e async for e in rt.stream(ASK, thread_id="t-pb-stream", audience="staff")]
        assert events[-1].type == "final"
        assert events[-1].data["reply"].endswith("Shall I start it?")
        assert (await _pending(rt, "t-pb-stream"))["playbook"] == "kb-article"


def test_offer_threshold_is_the_one_the_calibration_chooses(local_embedder: Any) -> None:
    from evals.playbooks_offer import choose, load, score_all, split
    from graphs.playbooks.suggest import OFFER_THRESHOLD, PlaybookSuggester

    dev, _ = split(load())
    assert round(choose(score_all(PlaybookSuggester(local_embedder), dev)), 3) == OFFER_THRESHOLD


class BrokenEncoder:
    def embed_documents(self, texts: Any) -> Any:
        raise RuntimeError("encoder unavailable")

    def embed_query(self, text: str) -> Any:
        raise RuntimeError("encoder unavailable")


async def test_a_failing_offer_leaves_the_turn_as_it_was(db: Database) -> None:
    async with await _runtime(db, BrokenEncoder()) as rt:
        turn = await rt.ask(ASK, thread_id="t-pb-broken", audience="staff")
        assert turn.reply and "playbook" not in turn.reply
