"""``GraceRuntime``: the supervisor graph with its database, checkpointer and collaborators.

This is what the CLI and the API use::

    rt = await GraceRuntime.open()
    turn = await rt.ask("Can I book a sound bath on Tuesday?", thread_id="t-1")
    if turn.escalation:                       # level 4: waiting for a person
        turn = await rt.resolve(turn.escalation.id, approve=True, by="maria")
    await rt.close()

Threads persist in PostgreSQL through ``langgraph-checkpoint-postgres`` on the same database;
a process killed mid-turn resumes from the last checkpoint, and workflow steps carry
idempotency keys so none is applied twice. Each turn holds a lease on its thread's inbox row
while it runs (``graphs/inbox.py``); a turn whose process died is finished by
:meth:`GraceRuntime.recover`, which ``graphs/turn_recovery.py`` calls for every such row
without waiting for the client, and the result is kept for the message's idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from graphs.checkpointer import PooledPostgresSaver
from graphs.core.database import Database
from graphs.core.events import EventBus, escalation_resolved, get_event_bus
from graphs.core.settings import Settings
from graphs.deps import GraphDeps, TurnRouter
from graphs.escalation_store import EscalationRepository
from graphs.inbox import ThreadInbox, ThreadInFlightError
from graphs.supervisor import build_graph, final_reply
from graphs.turn_events import TurnEvent, events_from_update, token_from_message
from graphs.turn_gate import ThreadBusyError, TurnGate, graph_config
from graphs.turn_result import (
    Audience,
    ThreadView,
    TurnRequest,
    TurnResult,
    new_message_id,
    new_thread_id,
)
from graphs.wiring import Wiring, open_wiring
from graphs.workflows.model import GRACE

if TYPE_CHECKING:
    from agents.llm.providers import ChatModel
    from graphs.playbooks.offers import PlaybookOffers
    from knowledge.embedding.base import Embedder

__all__ = [
    "Audience",
    "GraceRuntime",
    "ThreadBusyError",
    "ThreadInFlightError",
    "ThreadView",
    "TurnRequest",
    "TurnResult",
]


class GraceRuntime:
    """The running product: graph + database + checkpointer.

    Use :meth:`open`; close with :meth:`close` (or ``async with``).

    Args:
        wiring: The open collaborators (:func:`graphs.wiring.open_wiring`, with a
            checkpointer); :meth:`close` closes them.
        bus: The event bus turn results are published on (None: not published).
    """

    def __init__(self, wiring: Wiring, *, bus: EventBus | None = None) -> None:
        if wiring.checkpointer is None:
            raise ValueError("GraceRuntime needs a wiring opened with its checkpointer")
        self.wiring = wiring
        self.db: Database = wiring.db
        self.deps: GraphDeps = wiring.deps
        self.checkpointer: PooledPostgresSaver = wiring.checkpointer
        self.graph = build_graph(self.deps, checkpointer=self.checkpointer)
        self.escalations = EscalationRepository(self.db)
        self.inbox = ThreadInbox(self.db)
        self.gate = TurnGate(self.graph, self.inbox, self.escalations, bus,
                             self.deps.settings.checkpoint_durability)  # fmt: skip

    @property
    def bus(self) -> EventBus | None:
        """The event bus turn results and resolutions are published on (None: not published).

        Settable (tests follow a local bus); the turn gate publishes on the same one.
        """
        return self.gate.bus

    @bus.setter
    def bus(self, bus: EventBus | None) -> None:
        self.gate.bus = bus

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        db: Database | None = None,
        model: ChatModel | Literal["auto"] | None = "auto",
        embedder: Embedder | None = None,
        router: TurnRouter | None = None,
        knowledge: bool = True,
        offers: PlaybookOffers | bool = False,
    ) -> GraceRuntime:
        """Connect everything (:func:`graphs.wiring.open_wiring`; arguments as there).

        Args:
            settings: Process settings (default: from the environment).
            db: An open database (default: connect per settings; closed by :meth:`close`).
            model: A chat model; ``"auto"`` picks the configured provider (None offline).
            embedder: Embedder for the router and retrieval (default: the process-wide one).
            router: Triage of each turn (default: :class:`graphs.triage.decide.Triage` fitted
                on the packaged train split); a plain ``route``-only router is wrapped by
                :class:`graphs.triage.adapter.RouterTriage`.
            knowledge: Give Atlas (and offline replies) the knowledge base.
            offers: Grace's playbook offers to staff (``GraphDeps.playbooks``): a
                :class:`graphs.playbooks.offers.PlaybookOffers`, True for one on the local
                encoder, False for none. Its runner, when it has none, is a
                ``PlaybookRunner`` on this database, checkpointer, engine and model.
        """
        wiring = await open_wiring(
            settings, db=db, model=model, embedder=embedder, router=router,
            knowledge=knowledge, offers=offers,
        )  # fmt: skip
        try:
            return cls(wiring, bus=get_event_bus(wiring.settings))
        except BaseException:
            await wiring.aclose()
            raise

    async def __aenter__(self) -> GraceRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release everything this runtime holds.

        Stops renewing turn leases, stops playbook runs started from chat (a bounded moment),
        releases the checkpointer's connections, and the database if this runtime opened it.
        """
        await self.gate.close()
        await self.wiring.aclose()

    def request(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        persona: str | None = None,
        audience: Audience = "client",
        message_id: str | None = None,
    ) -> TurnRequest:
        """Check a turn's arguments once: the persona named, the audience; mint the ids.

        Arguments as for :meth:`ask`.

        Raises:
            agents.registry.UnknownPersonaError: ``persona`` is not a persona.
            ValueError: ``audience`` is neither ``client`` nor ``staff``.
        """
        canonical = self.persona_name(persona)
        if audience not in ("client", "staff"):
            raise ValueError(f"audience must be 'client' or 'staff', not {audience!r}")
        return TurnRequest(
            thread_id=thread_id or new_thread_id(),
            message_id=message_id or new_message_id(),
            message=message,
            persona=canonical,
            audience=audience,
        )

    def persona_name(self, name: str | None) -> str | None:
        """The canonical name of persona ``name`` (None for None: Grace routes).

        Raises:
            agents.registry.UnknownPersonaError: ``name`` is not a persona.
        """
        return self.deps.registry.get(name).name if name is not None else None

    async def ask(
        self,
        message: str | TurnRequest,
        *,
        thread_id: str | None = None,
        persona: str | None = None,
        audience: Audience = "client",
        message_id: str | None = None,
    ) -> TurnResult:
        """Run one user turn.

        Args:
            message: The user's text, or a checked :class:`TurnRequest` (then the other
                arguments are ignored).
            thread_id: Conversation to continue (a new one when None).
            persona: Talk to this persona directly (ownership and escalation still apply).
            audience: ``client`` (the default): tools reach only this conversation's instances —
                those opened in it or whose reference the client typed; ``staff``: any instance.
            message_id: Id to give the message (default: a new one). An idempotency key's
                record names it, so whichever process ends the turn keeps its result there.

        Raises:
            ThreadBusyError: the thread is paused waiting for a person.
            ThreadInFlightError: another turn of the thread is running (here or elsewhere).
            agents.registry.UnknownPersonaError: ``persona`` is not a persona.
        """
        req = self._checked(message, thread_id, persona, audience, message_id)
        async with self.gate.hold(req.thread_id):
            config, inputs = await self.gate.prepare(req)
            out = await self.graph.ainvoke(inputs, config, durability=self.gate.durability)
            out = await self._offer_playbook(config, inputs, out)
            result = await self.gate.result(req.thread_id, out)
            await self.gate.finish(req.thread_id, inputs, result)
            return result

    async def stream(
        self,
        message: str | TurnRequest,
        *,
        thread_id: str | None = None,
        persona: str | None = None,
        audience: Audience = "client",
        message_id: str | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Run one user turn, yielding its events as they happen (see ``graphs.turn_events``).

        Arguments as for :meth:`ask`.

        The last event is always ``final`` carrying the same :class:`TurnResult` :meth:`ask`
        returns (``result``; ``data`` is its ``to_dict()``); an ``escalation`` event precedes
        it when the thread paused for a person.

        Raises:
            ThreadBusyError: the thread is paused waiting for a person (before any event).
            ThreadInFlightError: another turn of the thread is running (before any event).
            agents.registry.UnknownPersonaError: ``persona`` is not a persona.
        """
        req = self._checked(message, thread_id, persona, audience, message_id)
        async with self.gate.hold(req.thread_id):
            config, inputs = await self.gate.prepare(req)
            async for event in self._stream(req.thread_id, config, inputs):
                yield event

    def _checked(
        self,
        message: str | TurnRequest,
        thread_id: str | None,
        persona: str | None,
        audience: Audience,
        message_id: str | None,
    ) -> TurnRequest:
        if isinstance(message, TurnRequest):
            return message
        return self.request(message, thread_id=thread_id, persona=persona, audience=audience,
                            message_id=message_id)  # fmt: skip

    async def _stream(
        self, thread_id: str, config: RunnableConfig, inputs: dict[str, Any]
    ) -> AsyncIterator[TurnEvent]:
        """The events of one prepared turn (see :meth:`stream`)."""
        values: dict[str, Any] = {}
        interrupts: dict[str, Any] = {}
        async for part in self.graph.astream(
            inputs,
            config,
            stream_mode=["updates", "messages", "values"],
            subgraphs=True,
            durability=self.gate.durability,
        ):
            ns, mode, chunk = cast(tuple[tuple[str, ...], str, Any], part)
            if mode == "values" and not ns:
                values = dict(chunk)
            elif mode == "messages":
                message_chunk, metadata = chunk
                event = token_from_message(message_chunk, metadata)
                if event is not None:
                    yield event
            elif mode == "updates":
                for node, update in dict(chunk).items():
                    if node == "__interrupt__":
                        interrupts.update({i.id: i for i in update})
                        continue
                    # Persona subgraph updates reach the parent again when the subgraph ends:
                    # report each tool step once, from inside the subgraph.
                    if ns or node == "triage":
                        for event in events_from_update(node, update):
                            yield event
        values["__interrupt__"] = list(interrupts.values())
        values = await self._offer_playbook(config, inputs, values)
        result = await self.gate.result(thread_id, values)
        await self.gate.finish(thread_id, inputs, result)
        if result.escalation is not None:
            yield TurnEvent("escalation", result.escalation.to_dict())
        yield TurnEvent("final", result.to_dict(), result=result)

    async def _offer_playbook(
        self, config: RunnableConfig, inputs: dict[str, Any], out: Any
    ) -> dict[str, Any]:
        """Grace's playbook offer at the end of a staff turn, if one fits (``deps.playbooks``).

        The offer (``graphs/playbooks/offers.py``, which also says which turns get none) is
        appended to the reply and, when a yes can start it, left pending in the thread,
        written as Grace's ``grace_reply`` node so the thread still ends there. A failing
        offer is logged; the turn stands without it.

        Returns:
            The turn's output values, with ``reply`` and ``pending`` updated when offered.
        """
        offers, values = self.deps.playbooks, dict(out or {})
        if offers is None or not offers.wanted(str(inputs.get("audience")), values):
            return values
        made = await offers.safe_offer(str(inputs["messages"][0].content), values)
        if made is None:
            return values
        said = values.get("reply") or final_reply(values.get("messages", []))[0]
        reply = f"{said}\n\n{made.text}" if said else made.text
        update = {"reply": reply, "pending": made.pending,
                  "messages": [AIMessage(made.text, name=GRACE)]}  # fmt: skip
        await self.graph.aupdate_state(config, update, as_node="grace_reply")
        return {**values, "reply": reply, "pending": made.pending}

    async def thread(self, thread_id: str) -> ThreadView | None:
        """What a thread holds: its messages, current persona, level and pending escalation.

        Returns:
            None when no thread with that id was ever checkpointed.
        """
        snap = await self.graph.aget_state(graph_config(thread_id))
        if not snap.values:
            return None
        pending = await self.escalations.list(status="pending", thread_id=thread_id)
        return ThreadView.of(thread_id, dict(snap.values), waiting=bool(snap.interrupts),
                             escalation=pending[0] if pending else None)  # fmt: skip

    async def holds(self, thread_id: str, message_id: str) -> bool:
        """Whether the thread's checkpoint holds the message ``message_id`` (its turn ran)."""
        return await self.gate.holds(thread_id, message_id)

    def running(self, thread_id: str) -> bool:
        """Whether this process is running a turn of ``thread_id`` right now."""
        return self.gate.running(thread_id)

    async def resolve(
        self,
        escalation_id: str | uuid.UUID,
        *,
        approve: bool,
        note: str | None = None,
        by: str = "staff",
    ) -> TurnResult:
        """Decide a pending escalation and resume its thread.

        Raises:
            graphs.escalation_store.EscalationNotFoundError: unknown id.
            graphs.escalation_store.EscalationAlreadyResolvedError: already decided.
        """
        esc = await self.escalations.get(escalation_id)
        await self.escalations.mark_resolved(esc.id, approved=approve, by=by, note=note)
        if self.bus is not None:
            decided = await self.escalations.get(esc.id)
            await self.bus.publish(escalation_resolved(decided.to_dict()))
        decision = {"approved": approve, "note": note, "by": by}
        out = await self.graph.ainvoke(
            Command(resume={esc.interrupt_id: decision}),
            graph_config(esc.thread_id),
        )
        return await self.gate.result(esc.thread_id, out)

    async def recover(self, thread_id: str) -> TurnResult | None:
        """Finish a turn that a crash left half-done (from its last checkpoint).

        Nodes re-run from the last completed step; workflow steps replay through their
        idempotency keys, so nothing is applied twice and no message is repeated. A turn
        that had ended but was not yet marked so (the process died in between) is only
        marked, its result kept for its idempotency key.

        Returns:
            The completed turn, or None when the thread had nothing unfinished (or waits for
            a person, which only :meth:`resolve` continues).

        Raises:
            ThreadInFlightError: this process is running a turn of the thread right now.
        """
        return await self.gate.recover(thread_id)
