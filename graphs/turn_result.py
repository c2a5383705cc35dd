"""What one chat turn produced, typed from the graph's output to the API, metrics and bus.

:class:`TurnResult` is built once per turn by :func:`turn_result` (from the supervisor's
output values) and handed as is to the HTTP schema (``api/schemas/chat.py``), the metrics
(``api/metrics.py``) and the event bus (:func:`graphs.bus_events.events_from_turn`).
:meth:`TurnResult.to_dict` is its JSON form, used only where a result is stored (the thread
inbox keeps it for an idempotency key) or sent as JSON; :meth:`TurnResult.from_dict` reads
that form back (an idempotent replay).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from graphs.escalation_store import EscalationRecord

__all__ = [
    "Audience",
    "ThreadView",
    "TurnRequest",
    "TurnResult",
    "new_message_id",
    "new_thread_id",
    "record_from_dict",
]

#: Who is talking on a turn: a client (own instances only) or staff (any instance).
Audience = Literal["client", "staff"]


def new_thread_id() -> str:
    """A fresh conversation id: ``t-`` + 12 hex characters (the only place one is minted)."""
    return f"t-{uuid.uuid4().hex[:12]}"


def new_message_id() -> str:
    """A fresh message id (32 hex characters)."""
    return uuid.uuid4().hex


@dataclass
class TurnResult:
    """What one turn produced.

    Attributes:
        thread_id: The conversation id.
        turn: 1-based index of the user turn in the thread.
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
        """JSON-ready representation (the escalation as its ``to_dict()``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["escalation"] = self.escalation.to_dict() if self.escalation else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnResult:
        """Read back :meth:`to_dict`'s form (unknown keys ignored).

        Raises:
            KeyError: ``thread_id``, ``turn``, ``reply`` or ``level`` is missing.
        """
        esc = data.get("escalation")
        return cls(
            thread_id=str(data["thread_id"]),
            turn=int(data["turn"]),
            reply=str(data["reply"]),
            persona=data.get("persona"),
            level=int(data["level"]),
            reasons=list(data.get("reasons") or []),
            route=dict(data.get("route") or {}),
            actions=list(data.get("actions") or []),
            refusals=list(data.get("refusals") or []),
            citations=list(data.get("citations") or []),
            escalation=record_from_dict(esc) if esc else None,
        )


def record_from_dict(data: dict[str, Any]) -> EscalationRecord:
    """An :class:`EscalationRecord` from its ``to_dict()`` form (ids and times parsed)."""
    values: dict[str, Any] = {f.name: data.get(f.name) for f in fields(EscalationRecord)}
    values["id"] = UUID(str(values["id"]))
    values["instance_id"] = UUID(str(values["instance_id"])) if values["instance_id"] else None
    for key in ("created_at", "resolved_at"):
        raw = values[key]
        values[key] = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    values["reasons"] = list(values["reasons"] or [])
    return EscalationRecord(**values)


def turn_result(
    thread_id: str,
    values: dict[str, Any],
    interrupts: list[Any],
    escalation: EscalationRecord | None,
    final: tuple[str, str | None],
) -> TurnResult:
    """Build the result from the supervisor's output ``values``.

    Args:
        thread_id: The conversation id.
        values: The graph's output state (``__interrupt__`` removed).
        interrupts: LangGraph interrupts the turn ended on (a pause for a person).
        escalation: The escalation recorded for them, if any.
        final: ``(reply, persona)`` of the last speaking message
            (:func:`graphs.supervisor.final_reply`).
    """
    reply, persona = ("", None) if interrupts else final
    extra = [r for i in interrupts for r in dict(i.value).get("reasons", [])]
    return TurnResult(
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
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["escalation"] = self.escalation.to_dict() if self.escalation else None
        return out

    @classmethod
    def of(
        cls,
        thread_id: str,
        values: dict[str, Any],
        *,
        waiting: bool,
        escalation: EscalationRecord | None,
    ) -> ThreadView:
        """The view of checkpointed state ``values`` (``waiting``: paused for a person)."""
        return cls(
            thread_id=thread_id,
            turn=int(values.get("turn", 0)),
            messages=[_message_dict(m) for m in values.get("messages", []) if _shown(m)],
            current_persona=values.get("current_persona"),
            level=4 if waiting else int(values.get("level", 1)),
            reasons=list(values.get("reasons") or []),
            escalation=escalation,
        )


def _shown(message: BaseMessage) -> bool:
    """User messages and AI replies (not tool calls or tool results)."""
    if isinstance(message, HumanMessage):
        return True
    return isinstance(message, AIMessage) and not message.tool_calls and bool(message.content)


def _message_dict(message: BaseMessage) -> dict[str, Any]:
    role = "user" if isinstance(message, HumanMessage) else "assistant"
    return {"role": role, "content": message.text, "persona": message.name}


@dataclass(frozen=True)
class TurnRequest:
    """One user message to run as a turn, checked once.

    Built by :meth:`graphs.runtime.GraceRuntime.request` (which validates the persona and the
    audience and mints the thread and message ids) or by a caller that already did those
    checks (the HTTP API resolves the persona before it claims the thread).

    Attributes:
        thread_id: The conversation.
        message_id: The message's id (an idempotency key's record names it).
        message: The user's text.
        persona: The persona asked for directly (its canonical name), or None: Grace routes.
        audience: ``client`` (own instances only) or ``staff`` (any instance).
    """

    thread_id: str
    message_id: str
    message: str
    persona: str | None = None
    audience: Audience = "client"
