"""Thread schemas: a conversation's history and where it stands."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.escalations import Escalation


class ThreadMessage(BaseModel):
    """One shown message (tool traffic is left out)."""

    role: Literal["user", "assistant"]
    content: str
    persona: str | None = Field(default=None, description="Who wrote it: a persona, or grace.")
    agent: str | None = Field(
        default=None, deprecated="Use `persona`.", description="Deprecated: same as `persona`."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "assistant", "content": "Tuesday works.", "persona": "solari"}]
        }
    )


class Thread(BaseModel):
    """A conversation: history, current persona, level, and the pending escalation if any."""

    thread_id: str
    turn: int
    messages: list[ThreadMessage]
    current_persona: str | None = Field(description="Who answers the next message.")
    current_agent: str | None = Field(
        deprecated="Use `current_persona`.", description="Deprecated: same as `current_persona`."
    )
    level: int
    reasons: list[str]
    escalation: Escalation | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "thread_id": "t-1b2c3d4e5f60",
                    "turn": 1,
                    "messages": [
                        {"role": "user", "content": "Can I book Tuesday?", "persona": None},
                        {"role": "assistant", "content": "Tuesday works.", "persona": "solari"},
                    ],
                    "current_persona": "solari",
                    "level": 1,
                    "reasons": [],
                    "escalation": None,
                }
            ]
        }
    )
