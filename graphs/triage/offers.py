"""Pending offers and proposed actions kept in the thread state between two turns.

A persona that ends its reply with an offer ("Would you like me to hand this over to a member
of our team?") or proposes a workflow step ("Shall I schedule the consultation?") leaves a
:class:`~graphs.state.Pending` in the thread; the next user turn resolves it with a yes or a
no (:class:`graphs.triage.decide.Triage`), and only then does anything happen. A pending item
lives for exactly one turn: the turn after it was made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_HANDOVER = re.compile(
    r"\b(hand|pass)\s+(this|it|you)\s+(over\s+)?to\s+(a\s+)?(member\s+of\s+(our|the)\s+"
    r"(team|staff)|person|colleague|human)\b.{0,40}\?",
    re.IGNORECASE | re.DOTALL,
)


def offered_handover(reply: str) -> bool:
    """True when ``reply`` asks the user whether to hand the conversation to a person."""
    return bool(_HANDOVER.search(reply))


def live_pending(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The thread's pending offer if it was made in the previous turn, else None."""
    pending = state.get("pending")
    if not pending:
        return None
    if int(pending.get("turn", -1)) != int(state.get("turn", 0)):
        return None
    return dict(pending)
