"""Workflow schemas: definitions, instances, events and audit history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import ApiModel, Integer, JsonObject, NoNul

IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,200}$", max_length=200)]
EventName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

_TRANSITION: dict[str, Any] = {
    "event": "consultation_scheduled",
    "from": "inquiry",
    "to": "consultation",
    "owner": "nyra",
}
_WORKFLOW: dict[str, Any] = {
    "id": "WF-WELL-BOOK",
    "name": "Wellness booking",
    "domain": "wellness",
    "subject": "booking",
    "description": "From inquiry to a completed session.",
    "initial_state": "inquiry",
}
_INSTANCE: dict[str, Any] = {
    "id": "6f1c2b9e-7f0e-4d1a-9a53-2f4f7e0c1d2a",
    "workflow_id": "WF-WELL-BOOK",
    "state": "consultation",
    "version": 1,
    "subject": "booking:B-1042",
    "data": {},
    "created_at": "2026-11-23T18:00:00+00:00",
    "updated_at": "2026-11-23T18:01:00+00:00",
}


class TransitionOut(BaseModel):
    """One edge of a workflow and who owns it (a persona, ``system`` or ``human``)."""

    event: str
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    owner: str

    model_config = ConfigDict(populate_by_name=True, json_schema_extra={"examples": [_TRANSITION]})


_WORKFLOW = {
    "id": "WF-WELL-BOOK",
    "name": "Wellness booking",
    "domain": "wellness",
    "subject": "booking",
    "description": "From inquiry to a completed session.",
    "initial_state": "inquiry",
}


class WorkflowSummary(BaseModel):
    """A workflow in the catalog."""

    id: str
    name: str
    domain: str
    subject: str = Field(description="Default kind of business subject.")
    description: str
    initial_state: str

    model_config = ConfigDict(json_schema_extra={"examples": [_WORKFLOW]})


class WorkflowDetail(WorkflowSummary):
    """A workflow with its states and owned transitions."""

    states: list[str]
    terminal_states: list[str]
    transitions: list[TransitionOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_WORKFLOW,
                    "states": ["inquiry", "consultation"],
                    "terminal_states": [],
                    "transitions": [_TRANSITION],
                }
            ]
        }
    )


class WorkflowList(BaseModel):
    """Every workflow in the catalog."""

    items: list[WorkflowSummary]

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_WORKFLOW]}]})


class InstanceOut(BaseModel):
    """A workflow instance (``version`` counts the transitions applied so far)."""

    id: str
    workflow_id: str
    state: str
    version: int
    subject: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(json_schema_extra={"examples": [_INSTANCE]})


class InstanceDetail(InstanceOut):
    """An instance with the transitions possible from its current state."""

    available: list[TransitionOut]

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_INSTANCE, "available": [_TRANSITION]}]}
    )


class InstanceList(BaseModel):
    """Instances, newest first."""

    items: list[InstanceOut]

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_INSTANCE]}]})


class StartInstance(ApiModel):
    """Start an instance of a workflow for a business subject.

    ``subject`` is ``TYPE:ID`` or a bare ``ID`` (the workflow's default subject type).
    A repeated ``idempotency_key`` (or ``Idempotency-Key`` header) returns the first instance.
    """

    subject: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"\S"), NoNul]
    data: JsonObject | None = Field(default=None, description="JSON kept with the instance.")
    idempotency_key: IdempotencyKey | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"subject": "booking:B-1042", "data": {"seats": 2}}]}
    )


class FireEvent(ApiModel):
    """Fire an event on an instance as the calling person (``human:<key name>``).

    Staff may fire only ``human``-owned steps; persona- and system-owned steps are refused
    (``not-owner``). ``expected_version`` refuses the step unless the instance is at exactly
    that version (optimistic concurrency); a repeated ``idempotency_key`` (or
    ``Idempotency-Key`` header) returns the first result and writes nothing.
    """

    event: EventName
    payload: JsonObject | None = Field(default=None, description="Kept in the audit row.")
    expected_version: Integer | None = Field(default=None, ge=0, le=2**31 - 1)
    idempotency_key: IdempotencyKey | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event": "client_accepted_quote",
                    "payload": {"note": "accepted on the phone"},
                    "expected_version": 3,
                    "idempotency_key": "accept-B-1042",
                }
            ]
        }
    )


class TransitionResultOut(BaseModel):
    """What firing an event did (``replayed``: an earlier identical request did it)."""

    instance_id: str
    workflow_id: str
    event: str
    actor: str
    from_state: str
    to_state: str
    version: int
    audit_id: int
    request_id: str
    at: datetime
    replayed: bool

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "instance_id": "6f1c2b9e-7f0e-4d1a-9a53-2f4f7e0c1d2a",
                    "workflow_id": "WF-WELL-BOOK",
                    "event": "client_accepted_quote",
                    "actor": "human:maria",
                    "from_state": "quote_provided",
                    "to_state": "payment_pending",
                    "version": 4,
                    "audit_id": 118,
                    "request_id": "9b2f0c4d6e8a4b1c9d0e1f2a3b4c5d6e",
                    "at": "2026-11-23T18:02:00+00:00",
                    "replayed": False,
                }
            ]
        }
    )


class AuditEntryOut(BaseModel):
    """One row of an instance's append-only history (the first is its ``start``)."""

    id: int
    instance_id: str
    version: int
    event: str
    actor: str
    from_state: str | None
    to_state: str
    payload: dict[str, Any]
    request_id: str
    idempotency_key: str | None
    created_at: datetime

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 117,
                    "instance_id": "6f1c2b9e-7f0e-4d1a-9a53-2f4f7e0c1d2a",
                    "version": 0,
                    "event": "start",
                    "actor": "nyra",
                    "from_state": None,
                    "to_state": "inquiry",
                    "payload": {},
                    "request_id": "9b2f0c4d6e8a4b1c9d0e1f2a3b4c5d6e",
                    "idempotency_key": None,
                    "created_at": "2026-11-23T18:00:00+00:00",
                }
            ]
        }
    )


class AuditHistory(BaseModel):
    """An instance's history, oldest first."""

    items: list[AuditEntryOut]

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": []}]})
