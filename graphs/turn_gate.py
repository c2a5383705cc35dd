"""The turn gate: one turn per thread at a time, and turns a crash cut off finished first.

:class:`TurnGate` is what :class:`graphs.runtime.GraceRuntime` runs each turn through:

* :meth:`TurnGate.hold` holds the thread for the turn (``graphs/running_turns.py`` renews
  its inbox lease while it runs; another process may take it over once the lease lapses);
* :meth:`TurnGate.prepare` keeps the message in the thread inbox first, refuses a thread that
  waits for a person (:class:`ThreadBusyError`), finishes a turn a crash left half-done
  (from its last checkpoint) and runs a message no checkpoint holds before the new one;
* :meth:`TurnGate.finish` marks the turn ended, its result kept for an idempotency key;
* :meth:`TurnGate.recover` finishes a turn whose process died, without waiting for the client
  (``graphs/turn_recovery.py`` calls it through ``GraceRuntime.recover``);
* :meth:`TurnGate.result` turns the graph's output into the typed :class:`TurnResult`
  (escalations recorded, events published on the bus).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from graphs.bus_events import events_from_turn
from graphs.core.events import EventBus
from graphs.escalation_store import EscalationRecord, EscalationRepository
from graphs.inbox import InboxMessage, ThreadInbox
from graphs.running_turns import RunningTurns
from graphs.supervisor import final_reply
from graphs.turn_result import TurnRequest, TurnResult, turn_result

__all__ = ["ThreadBusyError", "TurnGate", "graph_config", "graph_inputs"]

#: Threads remembered as settled by this process (oldest forgotten first).
_SETTLED_MAX = 10_000


class ThreadBusyError(RuntimeError):
    """The thread is waiting for a person; new messages wait until it is resolved."""

    def __init__(self, thread_id: str, escalation: EscalationRecord | None) -> None:
        self.thread_id = thread_id
        self.escalation = escalation
        ref = f" (escalation {escalation.id})" if escalation else ""
        super().__init__(f"conversation {thread_id} is waiting for a person{ref}")


def graph_config(thread_id: str) -> RunnableConfig:
    """The graph's run config for ``thread_id``."""
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 60}


def graph_inputs(message: InboxMessage) -> dict[str, Any]:
    """Graph inputs for an inbox message (its id becomes the ``HumanMessage`` id)."""
    return {
        "messages": [HumanMessage(message.content, id=message.id)],
        "requested_persona": message.requested_persona,
        "audience": message.audience,
    }


class TurnGate:
    """Runs turns of a thread one at a time and finishes those a crash cut off.

    Args:
        graph: The compiled supervisor graph (with its checkpointer).
        inbox: The thread inbox (leases, messages kept first, results kept).
        escalations: Where pauses for a person are recorded.
        bus: The event bus results are published on (None: not published).
        durability: The graph's checkpoint durability (``settings.checkpoint_durability``).
    """

    def __init__(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        inbox: ThreadInbox,
        escalations: EscalationRepository,
        bus: EventBus | None,
        durability: Any,
    ) -> None:
        self.graph = graph
        self.inbox = inbox
        self.escalations = escalations
        self.bus = bus
        self.durability = durability
        # thread id -> id of the message of our last turn there that ended without a pause
        self._settled: dict[str, str] = {}
        self._running = RunningTurns()  # their inbox leases are renewed while they run

    def running(self, thread_id: str) -> bool:
        """Whether this process is running a turn of ``thread_id`` right now."""
        return thread_id in self._running

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        """Hold ``thread_id`` for one turn here.

        Raises:
            graphs.inbox.ThreadInFlightError: a turn of the thread runs (here or elsewhere).
        """
        async with self._running.hold(thread_id, self.inbox):
            yield

    async def close(self) -> None:
        """Stop renewing leases (turns still running lose theirs)."""
        await self._running.close()

    async def prepare(self, request: TurnRequest) -> tuple[RunnableConfig, dict[str, Any]]:
        """Check the thread can take the message; finish a half-done turn; build the inputs.

        Raises:
            ThreadBusyError: the thread is paused waiting for a person.
        """
        thread_id = request.thread_id
        config = graph_config(thread_id)
        # The inbox keeps the message first (with durability "exit" the run writes one
        # checkpoint, at its end) and holds the turn's lease until it ends.
        msg = InboxMessage(request.message_id, request.message, request.persona,
                           request.audience)  # fmt: skip
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
                return config, graph_inputs(msg)
            try:
                snap = await self._settle(thread_id, config)
            except ThreadBusyError:
                await self.inbox.put(thread_id, prev)  # the refused message never arrived
                raise
        if prev is not None and not _holds(snap.values, prev.id):
            # A previous message that never reached the checkpoint (a crash mid-turn) runs first.
            out = await self.graph.ainvoke(graph_inputs(prev), config, durability=self.durability)
            lost = await self.result(thread_id, out)
            await self.inbox.settle(thread_id, prev.id, lost.to_dict())
            if lost.escalation is not None:  # that turn now waits for a person; so does this
                await self.inbox.put(thread_id, prev)  # the refused message never arrived
                raise ThreadBusyError(thread_id, lost.escalation)
        return config, graph_inputs(msg)

    async def finish(self, thread_id: str, inputs: dict[str, Any], result: TurnResult) -> None:
        """Mark the turn ended (its result kept for an idempotency key); remember it settled."""
        message_id = str(inputs["messages"][0].id)
        await self.inbox.settle(thread_id, message_id, result.to_dict())
        if self.durability != "exit" or result.escalation is not None:
            return
        self._settled[thread_id] = message_id  # see prepare()
        if len(self._settled) > _SETTLED_MAX:
            self._settled.pop(next(iter(self._settled)))

    async def holds(self, thread_id: str, message_id: str) -> bool:
        """Whether the thread's checkpoint holds the message ``message_id`` (its turn ran)."""
        snap = await self.graph.aget_state(graph_config(thread_id))
        return _holds(dict(snap.values or {}), message_id)

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
                done = await self.result(thread_id, out)
                await self.inbox.settle(thread_id, last, done.to_dict())
            snap = await self.graph.aget_state(config)
        return snap

    async def recover(self, thread_id: str) -> TurnResult | None:
        """Finish a turn that a crash left half-done (see ``GraceRuntime.recover``).

        Raises:
            graphs.inbox.ThreadInFlightError: this process is running a turn of the thread.
        """
        async with self.hold(thread_id):
            config = graph_config(thread_id)
            snap = await self.graph.aget_state(config)
            latest = await self.inbox.latest(thread_id)
            if snap.interrupts or (not snap.next and latest and _holds(snap.values, latest.id)):
                if latest is not None and _holds(snap.values, latest.id):
                    values = {**snap.values, "__interrupt__": list(snap.interrupts)}
                    ended = await self.result(thread_id, values, publish=False)
                    await self.inbox.settle(thread_id, latest.id, ended.to_dict())
                return None
            if snap.next:
                out = await self.graph.ainvoke(None, config)
                result = await self.result(thread_id, out)
                last = _last_human_id(dict(out or {}))
                if last is not None:
                    await self.inbox.settle(thread_id, last, result.to_dict())
                return result
            # durability "exit": a message in the inbox that no checkpoint holds was cut off
            if latest is None:
                return None
            out = await self.graph.ainvoke(graph_inputs(latest), config, durability=self.durability)
            result = await self.result(thread_id, out)
            await self.inbox.settle(thread_id, latest.id, result.to_dict())
            return result

    async def result(self, thread_id: str, out: Any, *, publish: bool = True) -> TurnResult:
        """The turn result of the graph's output values (``__interrupt__`` included).

        Records an escalation per interrupt; ``publish``: send the result's events on the
        bus (False when rebuilding an ended turn).
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
        final = ("", None) if interrupts else final_reply(values.get("messages", []))
        result = turn_result(thread_id, values, interrupts, escalation, final)
        if publish and self.bus is not None:  # dashboards follow transitions, escalations live
            for event in events_from_turn(result):
                await self.bus.publish(event)
        return result


def _last_human_id(values: dict[str, Any]) -> str | None:
    """Id of the last user message in state ``values`` (None when there is none)."""
    humans = [m for m in values.get("messages", []) if isinstance(m, HumanMessage)]
    return str(humans[-1].id) if humans and humans[-1].id else None


def _holds(values: dict[str, Any], message_id: str) -> bool:
    """Whether checkpointed state ``values`` already hold the message with ``message_id``."""
    return any(m.id == message_id for m in values.get("messages", []))
