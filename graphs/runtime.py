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
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from graphs.bus_events import events_from_turn
from graphs.checkpointer import PooledPostgresSaver, open_checkpoint_pool
from graphs.core.database import Database
from graphs.core.events import EventBus, escalation_resolved, get_event_bus
from graphs.core.settings import Settings, get_settings
from graphs.deps import GraphDeps
from graphs.escalation_store import EscalationRecord, EscalationRepository
from graphs.inbox import InboxMessage, ThreadInbox, ThreadInFlightError
from graphs.running_turns import RunningTurns
from graphs.supervisor import build_graph, final_reply
from graphs.turn_events import TurnEvent, events_from_update, token_from_message
from graphs.workflows.engine import WorkflowEngine

__all__ = ["GraceRuntime", "ThreadBusyError", "ThreadInFlightError", "ThreadView", "TurnResult"]

#: Who is talking on a turn: a client (own cases only) or staff (any case).
Audience = Literal["client", "staff"]


class ThreadBusyError(RuntimeError):
    """The thread is waiting for a person; new messages wait until it is resolved."""

    def __init__(self, thread_id: str, escalation: EscalationRecord | None) -> None:
        self.thread_id = thread_id
        self.escalation = escalation
        ref = f" (escalation {escalation.id})" if escalation else ""
        super().__init__(f"conversation {thread_id} is waiting for a person{ref}")


@dataclass
class TurnResult:
    """What one turn produced.

    Attributes:
        reply: The text shown to the user ("" while waiting for a person).
        persona: Who answered (a persona, or ``grace`` for merged / staff replies).
        level: Escalation level 1-4.
        reasons: Why that level.
        route: The routing decision.
        actions: Workflow transitions applied.
        refusals: Steps refused (ownership, state, budget…).
        citations: Knowledge citations behind the reply.
        escalation: The pending escalation when the thread paused for a person.
    """

    thread_id: str
    turn: int
    reply: str
    persona: str | None
    level: int
    reasons: list[str] = field(default_factory=list)
    route: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    escalation: EscalationRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = dict(self.__dict__)
        out["escalation"] = self.escalation.to_dict() if self.escalation else None
        return out


@dataclass
class ThreadView:
    """A conversation as stored in the checkpointer.

    Attributes:
        thread_id: The conversation id.
        turn: Number of user turns so far.
        messages: ``{"role": "user"|"assistant", "content", "persona"}`` in order (tool
            traffic left out).
        current_persona: Who handled the last turn.
        level: Escalation level of the last turn (4 while waiting for a person).
        reasons: Why that level.
        escalation: The pending escalation, if the thread waits for a person.
    """

    thread_id: str
    turn: int
    messages: list[dict[str, Any]]
    current_persona: str | None
    level: int
    reasons: list[str]
    escalation: EscalationRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = dict(self.__dict__)
        out["escalation"] = self.escalation.to_dict() if self.escalation else None
        return out


class GraceRuntime:
    """The running product: graph + database + checkpointer.

    Use :meth:`open`; close with :meth:`close` (or ``async with``).
    """

    def __init__(
        self,
        db: Database,
        deps: GraphDeps,
        checkpointer: Any,
        *,
        owns_db: bool,
        bus: EventBus | None = None,
    ) -> None:
        self.db = db
        self.deps = deps
        self.checkpointer = checkpointer
        self.graph = build_graph(deps, checkpointer=checkpointer)
        self.escalations = EscalationRepository(db)
        self.inbox = ThreadInbox(db)
        self.bus = bus
        self._durability = deps.settings.checkpoint_durability
        self._owns_db = owns_db
        self._checkpoint_pool: Any = None
        # thread id -> id of the message of our last turn there that ended without a pause
        self._settled: dict[str, str] = {}
        self._running = RunningTurns()  # their inbox leases are renewed while they run

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        db: Database | None = None,
        model: Any = "auto",
        embedder: Any = None,
        router: Any = None,
        knowledge: bool = True,
        offers: Any = False,
    ) -> GraceRuntime:
        """Connect everything.

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
        from agents.registry import PersonaRegistry
        from knowledge.embedding.factory import get_default_embedder
        from knowledge.retrieval_cache import caching_retriever
        from knowledge.retriever import Retriever
        from knowledge.store.pgvector import PgVectorStore

        settings = settings or get_settings()
        owns = db is None
        db = db or await Database.connect(settings)
        if model == "auto":
            from agents.llm.providers import make_chat_model

            model = make_chat_model(settings)
        embedder = embedder or get_default_embedder(settings)
        registry = PersonaRegistry.load()
        retriever = None
        if knowledge:
            store = PgVectorStore(db, exact_search_max_rows=settings.exact_search_max_rows)
            # Redis-cached when REDIS_URL is set (invalidated when a collection changes).
            retriever = caching_retriever(Retriever(store, embedder), settings, db)
        deps = GraphDeps(
            settings=settings,
            engine=WorkflowEngine(db),
            registry=registry,
            router=router or _local_router(registry, embedder, settings),
            retriever=retriever,
            model=model,
        )
        pool = await open_checkpoint_pool(db.url, max_size=settings.db_pool_max_size)
        saver = PooledPostgresSaver(pool)
        await saver.setup()  # the checkpointer's own versioned tables (idempotent)
        if offers:
            from graphs.playbooks.offers import bind_offers

            deps.playbooks = bind_offers(offers, deps, db, saver, embedder, knowledge=knowledge)
        rt = cls(db, deps, saver, owns_db=owns, bus=get_event_bus(settings))
        rt._checkpoint_pool = pool
        return rt

    async def __aenter__(self) -> GraceRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release the checkpointer's connections, and the database if this runtime opened it."""
        await self._running.close()
        if self.deps.playbooks is not None:  # runs started from chat get a bounded moment
            await self.deps.playbooks.close()
        if self._checkpoint_pool is not None:
            await self._checkpoint_pool.close()
        if self._owns_db:
            await self.db.close()

    @staticmethod
    def _config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": 60}

    async def ask(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        agent: str | None = None,
        audience: Audience = "client",
        message_id: str | None = None,
    ) -> TurnResult:
        """Run one user turn.

        Args:
            message: The user's text.
            thread_id: Conversation to continue (a new one when None).
            agent: Talk to this persona directly (ownership and escalation still apply).
            audience: ``client`` (the default): tools reach only this conversation's cases —
                those opened in it or whose reference the client typed; ``staff``: any case.
            message_id: Id to give the message (default: a new one). An idempotency key's
                record names it, so whichever process ends the turn keeps its result there.

        Raises:
            ThreadBusyError: the thread is paused waiting for a person.
            ThreadInFlightError: another turn of the thread is running (here or elsewhere).
            agents.registry.UnknownPersonaError: ``agent`` is not a persona.
        """
        thread_id = thread_id or _new_thread_id()
        async with self._turn(thread_id):
            config, inputs = await self._prepare(message, thread_id, agent, audience, message_id)
            out = await self.graph.ainvoke(inputs, config, durability=self._durability)
            out = await self._offer_playbook(config, inputs, out)
            result = await self._result(thread_id, out)
            await self._finish(thread_id, inputs, result)
            return result

    async def stream(
        self,
        message: str,
        *,
        thread_id: str | None = None,
        agent: str | None = None,
        audience: Audience = "client",
        message_id: str | None = None,
    ) -> AsyncIterator[TurnEvent]:
        """Run one user turn, yielding its events as they happen (see ``graphs.turn_events``).

        Arguments as for :meth:`ask`.

        The last event is always ``final`` with the same :class:`TurnResult` :meth:`ask`
        returns; an ``escalation`` event precedes it when the thread paused for a person.

        Raises:
            ThreadBusyError: the thread is paused waiting for a person (before any event).
            ThreadInFlightError: another turn of the thread is running (before any event).
            agents.registry.UnknownPersonaError: ``agent`` is not a persona.
        """
        thread_id = thread_id or _new_thread_id()
        async with self._turn(thread_id):
            config, inputs = await self._prepare(message, thread_id, agent, audience, message_id)
            async for event in self._stream(thread_id, config, inputs):
                yield event

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
            durability=self._durability,
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
        result = await self._result(thread_id, values)
        await self._finish(thread_id, inputs, result)
        if result.escalation is not None:
            yield TurnEvent("escalation", result.escalation.to_dict())
        yield TurnEvent("final", result.to_dict())

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
                  "messages": [AIMessage(made.text, name="grace")]}  # fmt: skip
        await self.graph.aupdate_state(config, update, as_node="grace_reply")
        return {**values, "reply": reply, "pending": made.pending}

    async def thread(self, thread_id: str) -> ThreadView | None:
        """What a thread holds: its messages, current persona, level and pending escalation.

        Returns:
            None when no thread with that id was ever checkpointed.
        """
        snap = await self.graph.aget_state(self._config(thread_id))
        if not snap.values:
            return None
        values = dict(snap.values)
        pending = await self.escalations.list(status="pending", thread_id=thread_id)
        return ThreadView(
            thread_id=thread_id,
            turn=int(values.get("turn", 0)),
            messages=[_message_dict(m) for m in values.get("messages", []) if _shown(m)],
            current_persona=values.get("current_persona"),
            level=4 if snap.interrupts else int(values.get("level", 1)),
            reasons=list(values.get("reasons") or []),
            escalation=pending[0] if pending else None,
        )

    async def holds(self, thread_id: str, message_id: str) -> bool:
        """Whether the thread's checkpoint holds the message ``message_id`` (its turn ran)."""
        snap = await self.graph.aget_state(self._config(thread_id))
        return _holds(dict(snap.values or {}), message_id)

    def running(self, thread_id: str) -> bool:
        """Whether this process is running a turn of ``thread_id`` right now."""
        return thread_id in self._running

    def _turn(self, thread_id: str) -> AbstractAsyncContextManager[None]:
        """Hold ``thread_id`` for one turn here (ThreadInFlightError if already held)."""
        return self._running.hold(thread_id, self.inbox)

    async def _finish(self, thread_id: str, inputs: dict[str, Any], result: TurnResult) -> None:
        """Mark the turn ended (its result kept for an idempotency key); remember it settled."""
        await self.inbox.settle(thread_id, str(inputs["messages"][0].id), result.to_dict())
        self._remember(thread_id, inputs, result)

    async def _prepare(
        self,
        message: str,
        thread_id: str,
        agent: str | None,
        audience: Audience,
        message_id: str | None,
    ) -> tuple[RunnableConfig, dict[str, Any]]:
        """Check the thread can take a message; finish a half-done turn; build the inputs."""
        mid = message_id or uuid.uuid4().hex
        if agent is not None:
            agent = self.deps.registry.get(agent).name
        if audience not in ("client", "staff"):
            raise ValueError(f"audience must be 'client' or 'staff', not {audience!r}")
        config = self._config(thread_id)
        # The inbox keeps the message first (with durability "exit" the run writes one
        # checkpoint, at its end) and holds the turn's lease until it ends.
        msg = InboxMessage(mid, message, agent, audience)
        known = self._settled.pop(thread_id, None)
        if known is None:
            snap = await self._settle(thread_id, config)
            prev = await self.inbox.swap(thread_id, msg)
        else:
            prev = await self.inbox.swap(thread_id, msg)
            if prev is not None and prev.id == known:
                # Every turn swaps the inbox, so no process has touched this thread since our
                # own turn ended without a pause: its checkpoint is ours, settled and holding
                # that message. Skips a checkpoint read per turn. (Caveat: checkpoints commit
                # asynchronously, so a PostgreSQL crash within ~0.6 s of our turn, survived by
                # this process, could lose that turn's checkpoint unnoticed; restarting the
                # process after a database crash clears this memory.)
                return config, _inputs(msg)
            try:
                snap = await self._settle(thread_id, config)
            except ThreadBusyError:
                await self.inbox.put(thread_id, prev)  # the refused message never arrived
                raise
        if prev is not None and not _holds(snap.values, prev.id):
            # A previous message that never reached the checkpoint (a crash mid-turn) runs first.
            out = await self.graph.ainvoke(_inputs(prev), config, durability=self._durability)
            lost = await self._result(thread_id, out)
            await self.inbox.settle(thread_id, prev.id, lost.to_dict())
            if lost.escalation is not None:  # that turn now waits for a person; so does this
                await self.inbox.put(thread_id, prev)  # the refused message never arrived
                raise ThreadBusyError(thread_id, lost.escalation)
        return config, _inputs(msg)

    async def _settle(self, thread_id: str, config: RunnableConfig) -> Any:
        """The thread's state snapshot, after finishing a turn a crash left half-done.

        Raises:
            ThreadBusyError: the thread is paused waiting for a person.
        """
        snap = await self.graph.aget_state(config)
        if snap.interrupts:
            pending = await self.escalations.list(status="pending", thread_id=thread_id)
            raise ThreadBusyError(thread_id, pending[0] if pending else None)
        if snap.next:  # a turn a crash left half-done: finish it first
            out = await self.graph.ainvoke(None, config)
            last = _last_human_id(dict(out or {}))
            if last is not None:  # its idempotency key, if any, gets the result
                done = await self._result(thread_id, out)
                await self.inbox.settle(thread_id, last, done.to_dict())
            snap = await self.graph.aget_state(config)
        return snap

    def _remember(self, thread_id: str, inputs: dict[str, Any], result: TurnResult) -> None:
        """Note that our turn on ``thread_id`` ended settled (see :meth:`_prepare`)."""
        if self._durability != "exit" or result.escalation is not None:
            return
        self._settled[thread_id] = str(inputs["messages"][0].id)
        if len(self._settled) > _SETTLED_MAX:
            self._settled.pop(next(iter(self._settled)))

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
            self._config(esc.thread_id),
        )
        return await self._result(esc.thread_id, out)

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
        async with self._turn(thread_id):
            config = self._config(thread_id)
            snap = await self.graph.aget_state(config)
            latest = await self.inbox.latest(thread_id)
            if snap.interrupts or (not snap.next and latest and _holds(snap.values, latest.id)):
                if latest is not None and _holds(snap.values, latest.id):
                    values = {**snap.values, "__interrupt__": list(snap.interrupts)}
                    ended = await self._result(thread_id, values, publish=False)
                    await self.inbox.settle(thread_id, latest.id, ended.to_dict())
                return None
            if snap.next:
                out = await self.graph.ainvoke(None, config)
                result = await self._result(thread_id, out)
                last = _last_human_id(dict(out or {}))
                if last is not None:
                    await self.inbox.settle(thread_id, last, result.to_dict())
                return result
            # durability "exit": a message in the inbox that no checkpoint holds was cut off
            if latest is None:
                return None
            out = await self.graph.ainvoke(_inputs(latest), config, durability=self._durability)
            result = await self._result(thread_id, out)
            await self.inbox.settle(thread_id, latest.id, result.to_dict())
            return result

    async def _result(self, thread_id: str, out: Any, *, publish: bool = True) -> TurnResult:
        """Build the turn result from the graph's output values (``__interrupt__`` included).

        ``publish``: send its events on the bus (False when rebuilding an ended turn).
        """
        values = dict(out or {})
        interrupts = list(values.pop("__interrupt__", None) or [])
        escalation = None
        for intr in interrupts:
            escalation = await self.escalations.record(
                thread_id=thread_id,
                turn=int(values.get("turn", 0)),
                interrupt_id=intr.id,
                payload=dict(intr.value),
            )
        reply, persona = ("", None) if interrupts else final_reply(values.get("messages", []))
        extra = [r for i in interrupts for r in dict(i.value).get("reasons", [])]
        result = TurnResult(
            thread_id=thread_id,
            turn=int(values.get("turn", 0)),
            reply="" if interrupts else (values.get("reply") or reply),
            persona=persona or values.get("current_persona"),
            level=4 if interrupts else int(values.get("level", 1)),
            reasons=list(dict.fromkeys([*(values.get("reasons") or []), *extra])),
            route=dict(values.get("route") or {}),
            actions=list(values.get("actions") or []),
            refusals=list(values.get("refusals") or []),
            citations=list(values.get("citations") or []),
            escalation=escalation,
        )
        if publish and self.bus is not None:  # dashboards follow transitions, escalations live
            for event in events_from_turn(result):
                await self.bus.publish(event)
        return result


def _local_router(registry: Any, embedder: Any, settings: Settings) -> Any:
    """The learned local triage on the process's ONNX MiniLM, fitted once per train split.

    It shares the ONNX encoder under ``embedder`` (one model in memory), or loads one when
    ``embedder`` is another backend; falls back to ``embedder`` when the export cannot be made
    or loaded (same vectors for all-MiniLM-L6-v2, only slower). The fitted classifiers are
    cached in ``settings.models_dir`` (``agents.fit_cache``), so a start with an unchanged
    train split loads them instead of refitting. ``registry`` is not needed: the triage learns
    from its labelled train split.
    """
    from agents.encoder import router_embedder
    from graphs.triage.decide import load_triage

    del registry
    encoder = router_embedder(settings.models_dir, embedder)
    return load_triage(encoder, cache_dir=settings.models_dir)


#: Threads remembered as settled by this process (oldest forgotten first).
_SETTLED_MAX = 10_000


def _shown(message: BaseMessage) -> bool:
    """User messages and AI replies (not tool calls or tool results)."""
    if isinstance(message, HumanMessage):
        return True
    return isinstance(message, AIMessage) and not message.tool_calls and bool(message.content)


def _message_dict(message: BaseMessage) -> dict[str, Any]:
    role = "user" if isinstance(message, HumanMessage) else "assistant"
    return {"role": role, "content": message.text, "persona": message.name}


def _inputs(message: InboxMessage) -> dict[str, Any]:
    """Graph inputs for an inbox message (its id becomes the ``HumanMessage`` id)."""
    return {
        "messages": [HumanMessage(message.content, id=message.id)],
        "requested_persona": message.requested_persona,
        "audience": message.audience,
    }


def _new_thread_id() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def _last_human_id(values: dict[str, Any]) -> str | None:
    """Id of the last user message in state ``values`` (None when there is none)."""
    humans = [m for m in values.get("messages", []) if isinstance(m, HumanMessage)]
    return str(humans[-1].id) if humans and humans[-1].id else None


def _holds(values: dict[str, Any], message_id: str) -> bool:
    """Whether checkpointed state ``values`` already hold the message with ``message_id``."""
    return any(m.id == message_id for m in values.get("messages", []))
