"""Labels of the triage corpus and the typed decision triage returns.

The corpus (``evals/datasets/triage/{train,dev,test}.jsonl``; the train split ships in this
package as ``data/train.jsonl``) has one message per line; :class:`TriageExample` validates it
strictly at load time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from graphs.workflows.model import GRACE, PERSONAS, Addressee

Risk = Literal[
    "none",
    "self_harm",
    "medical",
    "safety",
    "legal",
    "privacy",
    "payment_dispute",
    "vip",
    "approval_bypass",
    "human_request",
]
Act = Literal["request", "question", "confirmation", "refusal", "follow_up", "closing"]

#: Risk categories; every one except ``none`` means a person must decide (level 4).
RISKS: tuple[str, ...] = get_args(Risk)
#: Dialogue acts, in the corpus's order.
ACTS: tuple[str, ...] = get_args(Act)
#: Persona labels: the eight personas and Grace herself (messages about the service itself).
PERSONA_LABELS: tuple[str, ...] = (*PERSONAS, GRACE)
#: Acts that may change business state: only these let a persona fire a transition.
STATE_CHANGING_ACTS = frozenset({"request", "confirmation"})


class Turn(BaseModel):
    """An earlier turn of the conversation a corpus message belongs to."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    role: Literal["user", "assistant"]
    text: str
    agent: str | None = None


class TriageExample(BaseModel):
    """One labelled message of the triage corpus.

    Unknown keys are ignored (the corpus may carry authoring notes); every known key is
    type-checked strictly, so a mislabelled line fails loudly at load time.
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    id: str
    text: str = Field(min_length=1)
    persona: Addressee
    alternates: list[str] = Field(default_factory=list)
    level: int = Field(ge=1, le=4)
    risk: Risk = "none"
    act: Act = "request"
    intents: int = Field(default=1, ge=1)
    voice: Literal["client", "staff"] = "client"
    context: list[Turn] = Field(default_factory=list)

    @property
    def current_persona(self) -> str | None:
        """The persona that spoke last in ``context`` (the thread's current persona)."""
        for turn in reversed(self.context):
            if turn.role == "assistant" and turn.agent:
                return turn.agent
        return None


def load_examples(path: str | Path) -> list[TriageExample]:
    """Read a triage JSONL file (blank lines skipped).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        pydantic.ValidationError: a line does not match :class:`TriageExample` (the message
            names the line's id).
    """
    out: list[TriageExample] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(TriageExample.model_validate(json.loads(line)))
    return out


def packaged_train_path() -> Path:
    """The train split shipped with the package (a copy of the corpus's train split)."""
    return Path(__file__).with_name("data") / "train.jsonl"


@dataclass(frozen=True)
class TriageDecision:
    """Everything the supervisor needs to know about one turn before anyone acts.

    Attributes:
        persona: Who the turn belongs to: one of the eight personas, or ``grace`` (levels
            2-4 with no single domain, closings with no persona, questions about the service).
        handler: The persona subgraph that runs first (``persona`` unless that is Grace:
            then the most probable of the eight).
        confidence: Calibrated probability (0-1) of ``persona`` from the persona classifier
            (1.0 when a rule or the thread state decided).
        scores: Calibrated probability per persona label (nine, summing to 1).
        level: Escalation level 1-4.
        risk: Most likely risk category (``none`` when below the level-4 threshold).
        risk_probability: Calibrated probability that the message needs a person (any risk):
            :attr:`graphs.triage.model.Probabilities.person_score`, what level 4 is
            thresholded on.
        act: Dialogue act of the message.
        act_confidence: Calibrated probability of ``act``.
        intents: Personas of the independent requests found in the message, in order
            (length >= 2 means several personas are needed).
        secondary: ``intents`` other than ``persona``.
        multi_intent: Two or more independent requests for different personas.
        sticky: The current persona was kept (follow-up, continuation).
        resolves: ``accept``/``decline`` when the message answers the thread's pending offer
            or proposed action, else None.
        closing: The user ends the conversation ("thanks, that's all"): reply, route nothing.
        greeting: The message only greets ("hello", "good morning"): Grace greets back and
            says what the team does; no persona is routed.
        reasons: Why the level is what it is (recorded in the thread state).
        reason: One line on the routing choice.
    """

    persona: str
    confidence: float
    level: int
    act: str
    handler: str = ""
    scores: dict[str, float] = field(default_factory=dict, hash=False)
    risk: str = "none"
    risk_probability: float = 0.0
    act_confidence: float = 1.0
    intents: tuple[str, ...] = ()
    secondary: tuple[str, ...] = ()
    multi_intent: bool = False
    sticky: bool = False
    resolves: str | None = None
    closing: bool = False
    greeting: bool = False
    reasons: tuple[str, ...] = ()
    reason: str = ""

    @property
    def may_change_state(self) -> bool:
        """True when the act lets a persona change business state (request or confirmation)."""
        return self.act in STATE_CHANGING_ACTS
