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

_PERSON = (
    r"(one\s+of\s+)?(a\s+|the\s+|our\s+)?(members?\s+of\s+(our\s+|the\s+)?(team|staff)|"
    r"staff(\s+members?)?|team\s+members?|person|people|colleagues?|human|managers?|"
    r"consultants?|someone(\s+from\s+(our|the)\s+team)?|our\s+team|team)"
)
_HANDOVER = re.compile(
    rf"\b((hand|pass|send|refer|escalate)\s+(this|it|you|your\s+\w+)\s+(over\s+|on\s+)?to|"
    rf"(connect|put)\s+you\s+(through\s+)?(with|to))\s+{_PERSON}\b[^?]{{0,60}}\?|"
    rf"\b(ask|get|have)\s+{_PERSON}\s+to\s+(call|contact|ring|phone|email)\s+you\b[^?]{{0,60}}\?",
    re.IGNORECASE | re.DOTALL,
)


def pending_from_reply(persona: str, reply: str, turn: int) -> dict[str, Any] | None:
    """The pending item a persona's final reply leaves, if it ends on a question to the user.

    ``handover`` when it offers to hand over to a person; ``offer`` for any other closing
    question ("Shall I schedule it?", "Notify the owners?": a yes or no goes back to the
    persona, who carries on); None when the reply does not end on a question.
    """
    tail = reply.strip()[-240:]
    if not tail.endswith("?"):
        return None
    kind = "handover" if offered_handover(tail) else "offer"
    return {"kind": kind, "persona": persona, "turn": turn, "summary": tail}


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
