"""Bodies of ``/v1/playbooks`` and ``/v1/playbook-runs`` (strict: unknown fields are refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.schemas.common import ApiModel, JsonObject
from graphs.playbooks.webhooks import EventType

Name = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")


class PlaybookSummary(BaseModel):
    """One playbook in a list."""

    id: str
    version: int
    name: str
    description: str
    level: int
    steps: int
    tags: list[str]


class PlaybookList(BaseModel):
    """Every playbook."""

    items: list[PlaybookSummary]


class ValidateRequest(ApiModel):
    """Validate a built-in playbook (``paranoid`` needs an admin: it creates a database)."""

    level: Literal["basic", "standard", "strict", "paranoid"] = "strict"


class IssueOut(BaseModel):
    """One validation finding."""

    level: str
    step: str | None
    message: str


class ValidationOut(BaseModel):
    """A validation report."""

    playbook: str
    level: str
    ok: bool
    issues: list[IssueOut]
    final_states: dict[str, str]


class StartRun(ApiModel):
    """Start a run.

    ``wait`` true (default): the answer comes when the run finished or waits for a person
    (201). False: 202 at once; follow ``GET /v1/playbook-runs/{id}/events`` (SSE).
    """

    params: JsonObject = Field(default_factory=dict)
    instances: dict[str, UUID] = Field(default_factory=dict, description="Workflow id → instance")
    use_sample: bool = Field(default=False, description="Start from the sample parameters")
    wait: bool = True


class StepOut(BaseModel):
    """One step of a run."""

    step_id: str
    kind: str
    persona: str
    status: str
    attempts: int
    executions: int
    output: dict[str, Any] | None
    transition: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class RunOut(BaseModel):
    """A run with its steps and the gates it waits on."""

    id: UUID
    playbook_id: str
    version: int
    status: str
    params: dict[str, Any]
    instances: dict[str, str]
    requested_by: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    steps: list[StepOut] = []
    waiting_on: list[dict[str, Any]] = []


class RunList(BaseModel):
    """Runs, newest first."""

    items: list[RunOut]


class ApprovalIn(ApiModel):
    """Answer an approval gate; the caller is the approving person."""

    step: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    approved: bool
    note: str = Field(default="", max_length=2000)


class RollbackIn(ApiModel):
    """Roll a run back."""

    strategy: Literal["immediate", "graceful", "checkpoint", "manual"] = "graceful"
    checkpoint: str | None = Field(default=None, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")


class RollbackOut(BaseModel):
    """What a rollback did."""

    run_id: str
    strategy: str
    outcome: str
    checkpoint: str | None
    undone: list[dict[str, Any]]
    skipped: list[str]
    instructions: list[str]
    stopped_at: str | None
    reason: str | None


class SuggestIn(ApiModel):
    """A context or intent, and optionally the thread's recent messages."""

    context: str = Field(min_length=1, max_length=4000)
    recent: list[str] = Field(default_factory=list, max_length=20)
    k: int = Field(default=3, ge=1, le=10)


class SuggestionOut(BaseModel):
    """One ranked playbook with its reasons."""

    playbook: str
    name: str
    score: float
    similarity: float
    success_rate: float
    reasons: list[str]


class SuggestOut(BaseModel):
    """Ranked playbooks, best first."""

    items: list[SuggestionOut]


class AnalyticsOut(BaseModel):
    """Per playbook: runs by status, success rate, durations (s)."""

    items: list[dict[str, Any]]


class WebhookIn(ApiModel):
    """Register an outbound endpoint."""

    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")
    events: list[EventType] = Field(min_length=1, max_length=10)


class WebhookOut(BaseModel):
    """A registered endpoint; ``secret`` only in the answer to its creation."""

    id: UUID
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = None
