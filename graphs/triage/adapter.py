"""Triage for a plain persona router (test stubs, the API bench's fixed router).

The supervisor asks its router for ``triage(message, state)``. A router that only has
``route(message, current=...)`` (persona, confidence, secondary, multi_intent, reason) is
wrapped here: the persona is the router's; the level comes from the phrase triggers of
:func:`graphs.escalation.assess` and the high-precision rules of :mod:`graphs.triage.rules`;
the act from :func:`graphs.triage.rules.reply_act` (else the router's own ``act`` if it has
one, else ``request``); a bare greeting (:func:`graphs.triage.rules.is_greeting`) is
Grace's. The learned :class:`graphs.triage.decide.Triage` is the product's default; this
wrapper exists so tests can pin the persona a scenario exercises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphs.escalation import assess
from graphs.triage.rules import answer_to_offer, is_greeting, reply_act, risk_rule
from graphs.triage.schema import TriageDecision


class RouterTriage:
    """Adapts a ``route``-only router to the ``triage`` interface.

    Args:
        router: Any object with ``route(message, *, current=None)`` returning an object with
            ``persona``, ``confidence`` and optionally ``secondary``, ``multi_intent``,
            ``sticky``, ``reason``, ``scores``.
    """

    def __init__(self, router: Any) -> None:
        self.router = router

    def triage(self, message: str, state: Mapping[str, Any] | None = None) -> TriageDecision:
        """Persona from the router, level from the phrase triggers, act from the reply rules."""
        state = state or {}
        d = self.router.route(message, current=state.get("current_persona"))
        act = reply_act(message) or str(getattr(d, "act", None) or "request")
        pending = state.get("pending") or None
        if pending:
            act = answer_to_offer(message) or act
        resolves = None
        persona = str(d.persona)
        if pending and act in ("confirmation", "refusal"):
            resolves = "accept" if act == "confirmation" else "decline"
            persona = str(pending.get("persona") or persona)
        multi = bool(getattr(d, "multi_intent", False))
        esc = assess(message, multi_intent=multi)
        level, reasons = int(esc.level), list(esc.reasons)
        rule = risk_rule(message)
        if rule is not None and level < 4:
            level, reasons = 4, [*reasons, f"{rule[0]}: rule “{rule[1]}”"]
        if resolves == "accept" and pending and pending.get("kind") == "handover":
            level, reasons = 4, [*reasons, f"human_request: accepted {persona}'s offer"]
        secondary = tuple(getattr(d, "secondary", ()) or ())
        greeting = is_greeting(message) and level == 1 and resolves is None and act != "closing"
        return TriageDecision(
            persona="grace" if greeting else persona,
            handler=persona,
            confidence=float(d.confidence),
            scores=dict(getattr(d, "scores", {}) or {}),
            level=level,
            risk="human_request" if level == 4 else "none",
            act=act,
            intents=(persona, *secondary),
            secondary=secondary,
            multi_intent=multi,
            sticky=bool(getattr(d, "sticky", False)),
            resolves=resolves,
            closing=act == "closing" and level == 1,
            greeting=greeting,
            reasons=tuple(reasons),
            reason=str(getattr(d, "reason", "")),
        )


def as_triage(router: Any) -> Any:
    """``router`` itself when it triages, else :class:`RouterTriage` around it."""
    return router if hasattr(router, "triage") else RouterTriage(router)
