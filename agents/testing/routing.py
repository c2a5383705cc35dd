"""Stand-ins for the router and the triage models: decisions chosen by the test.

* :class:`StubRouter` — routes to a default persona unless a keyword maps elsewhere, records
  what it was asked (a :class:`graphs.deps.PersonaRouter`; the supervisor wraps it in its
  triage adapter);
* :class:`FixedRouter` — every message to one persona at full confidence (benchmarks that
  isolate orchestration from routing cost);
* :class:`ScriptedTriageModels` — stands in for :class:`graphs.triage.model.TriageModels`: the
  same probabilities for every message, fixed ones for its clauses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Decision:
    """A routing decision with every attribute the triage adapter reads.

    Attributes:
        persona: Persona that leads the answer.
        confidence: 0-1.
        secondary: Other personas the message also concerns.
        multi_intent: Whether the message asks for several things.
        sticky: Whether the current persona was kept.
        reason: Free text, shown in traces.
        scores: Per-persona scores (empty for stubs).
        act: Dialogue act (``request``, ``confirmation``…).
    """

    persona: str
    confidence: float = 0.9
    secondary: tuple[str, ...] = ()
    multi_intent: bool = False
    sticky: bool = False
    reason: str = "stub"
    scores: dict[str, float] = field(default_factory=dict)
    act: str = "request"


class StubRouter:
    """Routes to ``default`` (or the thread's current persona) unless a keyword maps elsewhere.

    Args:
        default: Persona for messages no keyword matches, when the thread has none yet.
        act: Dialogue act of the default decisions.
        confidence: Confidence of every decision.
        reason: Reason of every decision.
        record: Keep every ``(text, current)`` in :attr:`calls`.
        **keywords: ``word=persona``: a message containing ``word`` (lower case) goes to
            ``persona``, with :attr:`secondary` as its other intents.

    Attributes:
        secondary: Secondary personas of keyword decisions (set it to test multi-intent turns).
        calls: ``(text, current)`` per call.
    """

    def __init__(
        self,
        default: str = "solari",
        *,
        act: str = "request",
        confidence: float = 0.9,
        reason: str = "stub",
        record: bool = True,
        **keywords: str,
    ) -> None:
        self.default, self.keywords, self.act = default, keywords, act
        self.confidence, self.reason, self.record = confidence, reason, record
        self.secondary: tuple[str, ...] = ()
        self.calls: list[tuple[str, str | None]] = []

    def route(self, text: str, *, current: str | None = None) -> Decision:
        """The decision for ``text`` (see the class docstring)."""
        if self.record:
            self.calls.append((text, current))
        for word, persona in self.keywords.items():
            if word in text.lower():
                return Decision(
                    persona,
                    confidence=self.confidence,
                    secondary=self.secondary,
                    multi_intent=bool(self.secondary),
                    reason=self.reason,
                )
        return Decision(
            current or self.default, confidence=self.confidence, reason=self.reason, act=self.act
        )


class FixedRouter(StubRouter):
    """Routes every message to ``persona`` at full confidence, recording nothing.

    Args:
        persona: The persona every message goes to.
    """

    def __init__(self, persona: str = "solari") -> None:
        super().__init__(persona, confidence=1.0, reason="fixed", record=False)
        self.persona = persona

    def route(self, text: str, *, current: str | None = None) -> Decision:
        """Always :attr:`persona`, whatever the thread's current one."""
        return super().route(text, current=None)


class ScriptedTriageModels:
    """Stands in for ``TriageModels``: ``message`` for the whole message, ``clause`` for parts.

    Args:
        message: Probabilities returned for the first text (the whole message).
        clause: Probabilities returned for every other text (its clauses).
    """

    def __init__(self, message: Any, clause: Any) -> None:
        self.message, self.clause = message, clause

    def predict(self, texts: Sequence[str]) -> list[Any]:
        """``[message, clause, clause, ...]``, one per text."""
        return [self.message] + [self.clause for _ in texts[1:]]
