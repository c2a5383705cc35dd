"""Escalation levels and the triggers that raise them.

Levels (typed, with recorded reasons):
    1. one persona handles the turn;
    2. Grace coordinates several personas and merges their work (multi-intent turns,
       complaints);
    3. full network response: every relevant persona contributes and Grace writes an incident
       summary (high-impact incidents);
    4. a person decides: the thread pauses (LangGraph ``interrupt``) until staff resolve it.

Trigger detection is deterministic: curated phrase patterns per trigger (the trigger ids and
levels come from ``agents/personas.yaml``, taken from the seed's escalation procedures). A
persona needing a ``human``-owned workflow step raises level 4 on its own (``approval``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum
from functools import lru_cache


class Level(IntEnum):
    """Escalation level of a turn."""

    SINGLE = 1
    COORDINATED = 2
    NETWORK = 3
    HUMAN = 4


@dataclass(frozen=True)
class Trigger:
    """A detected reason to escalate.

    Attributes:
        id: Trigger id from the registry (e.g. ``legal_compliance``).
        level: The level it requires.
        evidence: The words in the message that matched.
    """

    id: str
    level: Level
    evidence: str


#: Phrase patterns per trigger id (case-insensitive regular expressions, word-bounded). The
#: level each trigger raises is not written here: it is the trigger's ``level`` in
#: ``agents/personas.yaml`` (:func:`trigger_levels`).
PATTERNS: dict[str, tuple[str, ...]] = {
    "explicit_human_request": (
        r"\b(talk|speak|chat)\s+(to|with)\s+(a\s+)?(real\s+)?(person|human|someone|somebody|"
        r"manager|staff|agent)\b",
        r"\b(real|actual)\s+(person|human)\b",
        r"\b(your|a|the)\s+manager\b",
        r"\bnot\s+(a|another)\s+bot\b",
        r"\bdon'?t\s+want\s+(a|to\s+talk\s+to\s+a)\s+bot\b",
        r"\bput\s+me\s+through\b",
        r"\b(member\s+of\s+(your\s+|the\s+)?(staff|team)|staff\s+member|someone\s+from\s+"
        r"(your|the)\s+team)\b",
        r"\b(rather\s+than|instead\s+of|not)\s+(over\s+|by\s+|via\s+)?(chat|a\s+chatbot)\b",
        r"\bcall\s+me\s+back\b",
    ),
    "legal_compliance": (
        r"\b(lawyer|solicitor|attorney|legal\s+action|sue|lawsuit|court)\b",
        r"\b(gdpr|ccpa|data\s+protection)\b",
        r"\b(erase|delete|remove)\s+(all\s+)?(my|the)\s+(personal\s+)?(data|information|records)\b",
        r"\bright\s+to\s+be\s+forgotten\b",
        r"\b(is\s+this|is\s+that|it'?s\s+not)\s+(even\s+)?legal\b",
        r"\b(even|actually)\s+legal\b",
        r"\b(copyright|trademark)\s+(claim|infringement|violation|law|dispute|notice)\b",
        r"\b(liabilit\w*|liable|defamat\w*)\b",
        r"\b(breach\w*|infring\w*|violat\w*)\b.{0,40}\b(law|contract|regulations?|rights)\b",
    ),
    "vip_client": (
        r"\b(biggest|major|long[- ]standing|top)\s+(collector|client|patron|sponsor|donor)s?\b",
        r"\bas\s+(a|one\s+of\s+your)\s+(vip|patron|sponsor|major\s+collector)\b",
        r"\b(our\s+foundation|board\s+chair|chair\s+of\s+our\s+board)\b",
        r"\bvip\b",
        r"\b(chair|trustee|director)\s+(of\s+)?(the\s+)?board\b",
        r"\b(funded|sponsored|underwrote|underwritten)\s+(your|the|several|our)\b",
        r"\bour\s+(grant|endowment|sponsorship)\b",
    ),
    "complex_dispute": (
        r"\bwithout\s+(my|her|his|their)\s+(consent|permission|approval)\b",
        r"\bboth\s+claim\b",
        r"\b(we|i)\s+disagree\s+with\s+(you|your)\b",
        r"\bdispute\b(?!.*\b(charge|invoice|payment|bank)\b)",
        r"\bagreed\s+(at|on|to)\b.{0,80}\bbut\b",
        r"\bwhich\s+(one\s+)?is\s+(it|right|correct)\b",
    ),
    "payment_dispute": (
        r"\b(charged|billed)\s+(me\s+)?(twice|double|two\s+times)\b",
        r"\b(double|duplicate)\s+(charge|payment|billing)\b",
        r"\bchargeback\b",
        r"\bdisput\w*\s+(the|this|a|my)\s+(charge|invoice|payment)\b",
        r"\b(invoice|charge|bill)\s+is\s+wrong\b",
        r"\bwon'?t\s+pay\b",
        r"\b(bank|card|credit\s+card)\s+statement\b",
        r"\b(overcharged|charged\s+(me\s+)?(too\s+much|more\s+than|extra))\b",
    ),
    "safety_health_concern": (
        r"\b(injur\w*|hurt(s|ing)?|pain(ful)?|dizz\w*|faint\w*|bleed\w*|allergic|reaction|"
        r"unwell|rash|cramps?|swell\w*|swollen|nause\w*|vomit\w*)\b",
        # being sick, not a hypothetical ("refund if I get sick")
        r"(?<!get )(?<!gets )(?<!getting )\bsick\b",
        r"\b(slipped|fell|fallen)\b",
        r"\bemergency\b",
    ),
    "needs_human_judgement": (
        r"\b(waive|make\s+an\s+exception|exception\s+for\s+me)\b",
        r"\bpromised\s+me\b",
        r"\bhonou?r\s+(it|the|that|this)\b",
        r"\bdoesn'?t\s+fit\s+your\s+(rules|policy|policies)\b",
    ),
    "high_impact_incident": (
        r"\b(site|website|portal|booking\s+system|app)\s+(is\s+)?(down|broken|not\s+working)\b",
        r"\bnobody\s+can\s+(pay|book|log\s*in)\b",
        r"\b(data\s+(leak|breach)|leaked|exposed)\b",
        r"\bother\s+people'?s\s+(details|data|emails|information)\b",
        r"\b(smashed|destroyed|shattered)\b",
        r"\ball\s+over\s+(social\s+media|the\s+news|instagram|twitter)\b",
    ),
    "complaint": (
        r"\b(formal\s+)?complaint\b",
        r"\b(really|very|so|extremely)\s+(unhappy|disappointed|upset|frustrated)\b",
        r"\bfed\s+up\b",
        r"\bnobody\s+(has\s+)?(called|replied|answered|got\s+back)\b",
        r"\bunacceptable\b",
    ),
}


@lru_cache(maxsize=1)
def trigger_levels() -> dict[str, Level]:
    """``{trigger id: level}`` from the shipped registry (``agents/personas.yaml``).

    Raises:
        KeyError: a trigger with patterns here is missing from the registry.
    """
    from agents.registry import PersonaRegistry

    declared = {t.id: Level(t.level) for t in PersonaRegistry.load().triggers}
    return {tid: declared[tid] for tid in PATTERNS}


@lru_cache(maxsize=1)
def _compiled() -> dict[str, tuple[Level, tuple[re.Pattern[str], ...]]]:
    levels = trigger_levels()
    return {
        tid: (levels[tid], tuple(re.compile(p, re.IGNORECASE) for p in pats))
        for tid, pats in PATTERNS.items()
    }


@dataclass(frozen=True)
class EscalationDecision:
    """The level of a turn and why.

    Attributes:
        level: The highest level any reason requires (1 when nothing triggered).
        triggers: Every trigger found in the message.
        reasons: Human-readable reasons, recorded in the thread state.
    """

    level: Level = Level.SINGLE
    triggers: tuple[Trigger, ...] = field(default=())
    reasons: tuple[str, ...] = field(default=())


def detect_triggers(message: str) -> list[Trigger]:
    """Every escalation trigger whose phrases occur in ``message``, highest level first."""
    found = []
    for tid, (level, patterns) in _compiled().items():
        for pattern in patterns:
            m = pattern.search(message)
            if m:
                found.append(Trigger(tid, level, m.group(0)))
                break
    found.sort(key=lambda t: -int(t.level))
    return found


def assess(message: str, *, multi_intent: bool = False) -> EscalationDecision:
    """Decide the level of a turn from its message (and the router's multi-intent flag).

    Args:
        message: The user's message.
        multi_intent: The router found several intents for different personas (level 2).
    """
    triggers = detect_triggers(message)
    reasons = [f"{t.id}: “{t.evidence}”" for t in triggers]
    level = max((t.level for t in triggers), default=Level.SINGLE)
    if multi_intent and level < Level.COORDINATED:
        level = Level.COORDINATED
        reasons.append("multi_intent: the message asks several personas for different things")
    return EscalationDecision(level=Level(level), triggers=tuple(triggers), reasons=tuple(reasons))
