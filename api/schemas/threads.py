"""Thread schemas: a conversation's history and where it stands."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from api.schemas.escalations import Escalation


class ThreadMessage(BaseModel):
    """One shown message (tool traffic is left out)."""

    role: Literal["user", "assistant"]
    content: str
    agent: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "assistant", "content": "Tuesday works.", "agent": "solari"}]
        }
    )


class Thread(BaseModel):
    """A conversation: history, current persona, level, and the pending escalation if any."""

    thread_id: str
    turn: int
    messages: list[ThreadMessage]
    current_agent: str | None
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
                        {"role": "user", "content": "Can I book Tuesday?", "agent": None},
                        {"role": "assistant", "content": "Tuesday works.", "agent": "solari"},
                    ],
                    "current_agent": "solari",
                    "level": 1,
                    "reasons": [],
                    "escalation": None,
                }
            ]
        }
    )
