"""The event-bus notifications one finished chat turn produces.

The bus itself (:mod:`graphs.core.events`) carries generic :class:`~graphs.core.events.Event`
records and knows nothing about conversations; what a turn publishes is decided here, one
layer up, from the turn's result (:class:`graphs.turn_result.TurnResult`).
"""

from __future__ import annotations

from graphs.core.events import Event
from graphs.turn_result import TurnResult


def events_from_turn(turn: TurnResult) -> list[Event]:
    """The events one turn produced, ready to publish, in this order.

    Each applied action becomes ``transition.applied``, each refusal ``transition.refused``,
    and a pending escalation ``escalation.created``. Every event's ``data`` carries
    ``thread_id`` and ``turn`` plus the action / refusal dict, or the escalation record's
    ``to_dict()``, copied in.

    Args:
        turn: A finished turn (:class:`graphs.turn_result.TurnResult`).

    Returns:
        The events, unpublished (empty ``id``); empty when the turn changed nothing.
    """
    base = {"thread_id": turn.thread_id, "turn": turn.turn}
    out = [Event(type="transition.applied", data={**base, **a}) for a in turn.actions]
    out += [Event(type="transition.refused", data={**base, **r}) for r in turn.refusals]
    if turn.escalation is not None:
        out.append(Event(type="escalation.created", data={**base, **turn.escalation.to_dict()}))
    return out
