"""Chat schemas: one user turn in, the turn's outcome out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import ApiModel, NoNul, PersonaRef, ThreadId
from api.schemas.escalations import Escalation

if TYPE_CHECKING:
    from graphs.turn_result import TurnResult

#: Longest accepted user message, in characters (a long e-mail pasted in fits).
MAX_MESSAGE_CHARS = 8000

MessageText = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=r"\S"), NoNul
]


class ChatRequest(ApiModel):
    """One user message.

    Without ``thread_id`` a new conversation starts (its id comes back in the response);
    ``persona`` talks to a persona directly instead of letting Grace route (``agent``, its
    name before 2026-12-04, is still accepted; send one of the two).
    """

    message: MessageText = Field(description="The user's text (1-8000 characters).")
    thread_id: ThreadId | None = Field(default=None, description="Conversation to continue.")
    persona: PersonaRef | None = Field(
        default=None,
        validation_alias=AliasChoices("persona", "agent"),
        description="Persona to talk to directly (see GET /v1/personas); also read as `agent`.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"message": "Can I book a sound bath on Tuesday evening?"},
                {
                    "message": "And on Wednesday?",
                    "thread_id": "t-1b2c3d4e5f60",
                    "persona": "solari",
                },
            ]
        }
    )


class Action(BaseModel):
    """A workflow transition applied during the turn."""

    persona: str
    workflow_id: str
    instance_id: str
    event: str
    from_state: str | None
    to_state: str
    actor: str
    replayed: bool = False

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "persona": "nyra",
                    "workflow_id": "WF-WELL-BOOK",
                    "instance_id": "6f1c2b9e-7f0e-4d1a-9a53-2f4f7e0c1d2a",
                    "event": "consultation_scheduled",
                    "from_state": "inquiry",
                    "to_state": "consultation",
                    "actor": "nyra",
                    "replayed": False,
                }
            ]
        },
    )


class Refusal(BaseModel):
    """A step refused during the turn (ownership, state, budget...)."""

    persona: str
    event: str
    code: str
    message: str

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "persona": "nyra",
                    "event": "consultation_completed",
                    "code": "not-your-tool",
                    "message": "nyra does not own consultation_completed",
                }
            ]
        },
    )


#: Example citation (shared by the knowledge schemas), as a client key sees it.
CITATION_EXAMPLE: dict[str, Any] = {
    "document_id": "3e6a1f0c-1d7b-4a8e-9c1f-0b2d3e4f5a6b",
    "title": "Cancellation policy",
    "section": "Refunds",
    "label": "Cancellation policy \u203a Wellness sessions \u203a Refunds",
    "collection": "handbook",
    "source": "handbook:policies/cancellations.md",
    "chunk_id": 42,
    "score": 0.71,
}


class CitationOut(BaseModel):
    """Where a passage behind the reply comes from (see :mod:`knowledge.citations`).

    ``source`` is a logical name, never a server path: ``<collection>:<path under its ingest
    root>`` for files, ``<collection>:<title>`` for webhook documents, or the URL a document
    came from. ``path``, the stored source (for files the absolute server path), is sent to
    staff and admin keys only.
    """

    document_id: str
    title: str
    section: str | None = None
    label: str = Field(default="", description="Title, section and subsection, '\u203a'-joined.")
    collection: str = ""
    source: str = Field(description="Logical source: never a server path.")
    chunk_id: int
    score: float
    path: str | None = Field(default=None, description="Stored source; staff and admin only.")

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [CITATION_EXAMPLE]})


class ChatResponse(BaseModel):
    """What one turn produced.

    ``reply`` is empty while the thread waits for a person (``level`` 4, ``escalation`` set);
    once staff resolve the escalation, ``GET /v1/threads/{thread_id}`` shows the outcome.
    """

    thread_id: str
    turn: int = Field(description="1-based index of this user turn in the thread.")
    reply: str
    persona: str | None = Field(description="Who answered: a persona, or grace.")
    agent: str | None = Field(
        deprecated="Use `persona`: the same value under its older name.",
        description="Deprecated: the same as `persona`.",
    )
    level: int = Field(ge=1, le=4, description="Escalation level 1-4.")
    reasons: list[str]
    route: dict[str, Any] = Field(description="The routing decision (persona, confidence...).")
    actions: list[Action]
    refusals: list[Refusal]
    citations: list[CitationOut]
    escalation: Escalation | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "thread_id": "t-1b2c3d4e5f60",
                    "turn": 1,
                    "reply": "Solari here: Tuesday 19:00 has two places left.",
                    "persona": "solari",
                    "agent": "solari",
                    "level": 1,
                    "reasons": [],
                    "route": {"persona": "solari", "confidence": 0.82},
                    "actions": [],
                    "refusals": [],
                    "citations": [],
                    "escalation": None,
                }
            ]
        }
    )

    @classmethod
    def from_turn(cls, turn: TurnResult) -> ChatResponse:
        """Build from a turn's result (``agent`` repeats ``persona`` for older clients)."""
        esc = turn.escalation
        return cls(
            thread_id=turn.thread_id,
            turn=turn.turn,
            reply=turn.reply,
            persona=turn.persona,
            agent=turn.persona,
            level=turn.level,
            reasons=list(turn.reasons),
            route=dict(turn.route),
            actions=[Action.model_validate(a) for a in turn.actions],
            refusals=[Refusal.model_validate(r) for r in turn.refusals],
            citations=[CitationOut.model_validate(c) for c in turn.citations],
            escalation=Escalation.model_validate(esc.to_dict()) if esc is not None else None,
        )
