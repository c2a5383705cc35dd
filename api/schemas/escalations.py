"""Escalation schemas: the pending decisions staff list and resolve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from api.schemas.common import ApiModel, NoNul

_EXAMPLE: dict[str, Any] = {
    "id": "0c9d1c1e-58a4-4a53-a1d7-8b7f1e7f6b10",
    "thread_id": "t-1b2c3d4e5f60",
    "turn": 3,
    "kind": "approval",
    "level": 4,
    "persona": "solari",
    "workflow_id": "WF-WELL-BOOK",
    "instance_id": "6f1c2b9e-7f0e-4d1a-9a53-2f4f7e0c1d2a",
    "event": "client_accepted_quote",
    "reasons": ["human_approval: client_accepted_quote needs a person"],
    "summary": "Solari asks a person to record that the client accepted the quote.",
    "status": "pending",
    "decided_by": None,
    "note": None,
    "created_at": "2026-11-23T18:00:00+00:00",
    "resolved_at": None,
}


class Escalation(BaseModel):
    """A request for a person's decision (level 4); the thread waits until it is resolved.

    ``kind`` is ``approval`` (a persona asked for a human-owned workflow step) or ``handoff``
    (the conversation needs a person). ``status``: ``pending``, ``approved`` or ``rejected``.
    """

    id: str
    thread_id: str
    turn: int
    kind: str
    level: int
    persona: str | None
    workflow_id: str | None
    instance_id: str | None
    event: str | None
    reasons: list[str]
    summary: str
    status: Literal["pending", "approved", "rejected"]
    decided_by: str | None
    note: str | None
    created_at: datetime
    resolved_at: datetime | None

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


class EscalationList(BaseModel):
    """Escalations, oldest first."""

    items: list[Escalation]

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE]}]})


class ResolveRequest(ApiModel):
    """A person's decision on a pending escalation.

    ``approve`` true applies the requested step (approval) or hands the reply over (handoff);
    ``note`` is kept with the decision and, for a handoff, is the reply the client sees.
    """

    approve: StrictBool = Field(description="JSON `true` or `false` (no 0/1 or strings).")
    note: Annotated[str, StringConstraints(max_length=4000), NoNul] | None = Field(
        default=None, description="Reason or reply text (at most 4000 characters)."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"approve": True, "note": "Confirmed by phone."}]}
    )
