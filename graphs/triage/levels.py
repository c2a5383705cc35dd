"""The escalation level of a turn, derived from risk, incidents and the number of intents.

1. one persona; 2. several personas coordinated by Grace (two or more independent requests
for different personas, or a complaint the level classifier puts at 2); 3. full network
response (an incident: the level classifier's ``P(level 3)``); 4. a person decides:
:attr:`~graphs.triage.model.Probabilities.person_score` (the binary level-4 head, the
risk head and the level head, averaged) at or above :data:`RISK_THRESHOLD`, or a phrase
rule; the risk named is the risk classifier's most probable category but ``none``.

Level 4 is checked first: a high score makes level 4 whatever ``P(level 3)`` or the number of
intents says (an incident or a multi-intent message that also needs a person goes to a
person); only then level 3, then level 2.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphs.escalation import Level
from graphs.triage.model import Probabilities

#: Level 4 when :attr:`~graphs.triage.model.Probabilities.person_score` is at least this.
#: Chosen after the fit ``triage-v4`` (train passes a-d, the three-head score) by the rule
#: kept since the first fit: a person needed and not asked is the worst error, so the
#: highest level-4 recall first, then the fewest level-1 messages sent to level 4, with
#: level-1 sent to 4 bounded at 5 % on dev. No threshold reaches 0.98 on dev now (two dev
#: level-4 messages score under 0.25), so the largest threshold at the best recall on both
#: tuning sets: the dev split (76 level-4, 186 level-1) and train pass ``train-d`` scored by
#: a fit on passes a-c (56 level-4, 247 level-1, written in other styles). Sweep (dev recall
#: / level-1 sent to 4; ``train-d`` recall / level-1 sent to 4): 0.25: 74/76, 13/186; 53/56,
#: 32/247. 0.30: 74/76, 9/186; 53/56, 29/247. 0.35: 74/76, 7/186; 53/56, 21/247. 0.40:
#: 74/76, 6/186; 52/56, 20/247. 0.45: 74/76, 5/186; 51/56, 18/247. Never tuned on the test
#: split (``triage-v3`` used 0.40 on the two-head score).
RISK_THRESHOLD = 0.35
#: Level 3 when the level classifier gives ``P(level 3)`` at least this (and no risk).
INCIDENT_THRESHOLD = 0.5


@dataclass(frozen=True)
class LevelDecision:
    """A turn's level, the risk behind a level 4 and the recorded reasons."""

    level: Level
    risk: str
    reasons: tuple[str, ...]


def derive_level(
    probs: Probabilities,
    *,
    intents: int,
    rule: tuple[str, str] | None = None,
    use_model_risk: bool = True,
    risk_threshold: float = RISK_THRESHOLD,
    incident_threshold: float = INCIDENT_THRESHOLD,
) -> LevelDecision:
    """Level of one message.

    Args:
        probs: The message's calibrated probabilities.
        intents: Independent requests for different personas found in it.
        rule: ``(risk, evidence)`` from :func:`graphs.triage.rules.risk_rule`, if any.
        use_model_risk: False for a yes or no to the thread's pending offer: the text model
            never saw such answers as risks (they are judged by the offer), so only the
            phrase rules can make them level 4.
        risk_threshold: See :data:`RISK_THRESHOLD`.
        incident_threshold: See :data:`INCIDENT_THRESHOLD`.
    """
    if rule is not None:
        return LevelDecision(Level.HUMAN, rule[0], (f"{rule[0]}: rule “{rule[1]}”",))
    need = probs.person_score
    if use_model_risk and need >= risk_threshold:
        ranked = sorted(
            ((r, p) for r, p in probs.risk.items() if r != "none"), key=lambda kv: -kv[1]
        )
        risk = ranked[0][0] if ranked else "human_request"
        return LevelDecision(
            Level.HUMAN,
            risk,
            (f"{risk}: P(a person must decide) {need:.2f} >= {risk_threshold:.2f}",),
        )
    p3 = probs.level.get("3", 0.0)
    if p3 >= incident_threshold:
        return LevelDecision(Level.NETWORK, "none", (f"high_impact_incident: P(level 3) {p3:.2f}",))
    if intents >= 2:
        return LevelDecision(
            Level.COORDINATED,
            "none",
            (f"multi_intent: {intents} independent requests for different personas",),
        )
    p2 = probs.level.get("2", 0.0)
    if p2 >= max(probs.level.get("1", 0.0), 0.5):
        return LevelDecision(
            Level.COORDINATED, "none", (f"coordinated: P(level 2) {p2:.2f} (complaint)",)
        )
    return LevelDecision(Level.SINGLE, "none", ())
