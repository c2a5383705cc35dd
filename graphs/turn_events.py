"""Typed events of one streamed turn, translated from LangGraph's stream parts.

``GraceRuntime.stream`` runs the supervisor with ``stream_mode=["updates", "messages",
"values"]`` (subgraphs included) and turns what LangGraph emits into the events a client shows
as they happen, in this order within a turn:

1. ``route`` — the triage decision (persona, confidence, level, reasons);
2. ``token`` — text as a persona (or Grace) produces it: model tokens when a chat model
   streams; offline, each composed reply arrives as one ``token`` event;
3. ``action`` / ``refusal`` / ``citation`` — workflow transitions applied or refused and the
   knowledge cited, as each tool step finishes;
4. ``escalation`` — the thread paused for a person (level 4);
5. ``final`` — the whole :class:`~graphs.turn_result.TurnResult` (``result``; ``data`` is
   its ``to_dict()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

from graphs.turn_result import TurnResult

TurnEventType = Literal["route", "token", "action", "refusal", "citation", "escalation", "final"]

# Nodes whose AI messages are replies a user reads (persona ``agent`` nodes inside the persona
# subgraphs, and Grace's own ``dispatch`` (merged replies) / ``human_review``).
_SPEAKING_NODES = frozenset({"agent", "dispatch", "human_review"})


@dataclass(frozen=True)
class TurnEvent:
    """One event of a streamed turn.

    Attributes:
        type: ``route``, ``token``, ``action``, ``refusal``, ``citation``, ``escalation`` or
            ``final``.
        data: JSON-ready payload. ``token``: ``{"persona", "text"}``; ``route``: the routing
            decision plus ``level`` and ``reasons``; ``action``/``refusal``/``citation``: the
            same dicts the turn result lists; ``escalation``: the escalation record;
            ``final``: ``TurnResult.to_dict()``.
        result: ``final`` only: the typed turn result itself (what the API schema, the
            metrics and the bus read); None for the other events.
    """

    type: TurnEventType
    data: dict[str, Any] = field(default_factory=dict)
    result: TurnResult | None = None


def events_from_update(node: str, update: Any) -> list[TurnEvent]:
    """Events carried by one node's state update (``stream_mode="updates"``).

    Args:
        node: The node that produced the update (``triage``, ``tools``…).
        update: The node's update dict (other shapes, e.g. interrupts, yield nothing).

    Returns:
        ``route`` for the triage decision; ``action``/``refusal``/``citation`` per item a tool
        step added.
    """
    if not isinstance(update, dict):
        return []
    out: list[TurnEvent] = []
    if node == "triage" and update.get("route"):
        out.append(
            TurnEvent(
                "route",
                {
                    **dict(update["route"]),
                    "level": int(update.get("level", 1)),
                    "reasons": list(update.get("reasons") or []),
                },
            )
        )
    for key, kind in (("actions", "action"), ("refusals", "refusal"), ("citations", "citation")):
        for item in update.get(key) or []:
            out.append(TurnEvent(kind, dict(item)))  # type: ignore[arg-type]
    return out


def token_from_message(message: BaseMessage, metadata: dict[str, Any]) -> TurnEvent | None:
    """A ``token`` event for reply text (``stream_mode="messages"``), or None.

    Tool-call messages, tool results, the user's own message and the router's structured
    output are not reply text and yield None.
    """
    if metadata.get("langgraph_node") not in _SPEAKING_NODES:
        return None
    if not isinstance(message, AIMessage | AIMessageChunk) or not message.content:
        return None
    if message.tool_calls or getattr(message, "tool_call_chunks", None):
        return None
    text = message.content if isinstance(message.content, str) else message.text
    if not text:
        return None
    persona = message.name or _persona_of(metadata)
    return TurnEvent("token", {"persona": persona, "text": text})


def _persona_of(metadata: dict[str, Any]) -> str | None:
    """The persona subgraph a message came from, read from its checkpoint namespace."""
    ns = str(metadata.get("checkpoint_ns") or metadata.get("langgraph_checkpoint_ns") or "")
    head = ns.split("|", 1)[0].split(":", 1)[0]
    return head or None
