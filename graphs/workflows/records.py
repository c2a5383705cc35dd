"""Value objects the workflow engine returns: instances, audit entries, transition results."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class Subject:
    """The business object a workflow instance is about, e.g. ``booking:B-1042``.

    Attributes:
        type: Kind of object (``booking``, ``document``, ``client``…).
        id: Its identifier in the business's systems.
    """

    type: str
    id: str

    @classmethod
    def parse(cls, text: str, default_type: str) -> Subject:
        """Parse ``type:id``, or a bare ``id`` that takes ``default_type``.

        Raises:
            ValueError: empty type or id.
        """
        kind, sep, ident = text.strip().partition(":")
        if not sep:
            kind, ident = default_type, kind
        kind, ident = kind.strip().lower(), ident.strip()
        if not kind or not ident:
            raise ValueError(f"subject must look like TYPE:ID or ID, got {text!r}")
        return cls(kind, ident)

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"


@dataclass(frozen=True)
class Instance:
    """One run of a workflow for one subject.

    Attributes:
        id: Instance id.
        workflow_id: e.g. ``WF-WELL-BOOK``.
        state: Current state.
        version: Number of transitions applied so far (0 right after start).
        subject: The business object.
        data: Free JSON given at start.
        created_at: Start time (UTC).
        updated_at: Time of the latest transition (UTC).
    """

    id: UUID
    workflow_id: str
    state: str
    version: int
    subject: Subject
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = asdict(self)
        out.update(
            id=str(self.id),
            subject=str(self.subject),
            created_at=self.created_at.isoformat(),
            updated_at=self.updated_at.isoformat(),
        )
        return out


@dataclass(frozen=True)
class AuditEntry:
    """One row of an instance's append-only history (``event == "start"`` for creation)."""

    id: int
    instance_id: UUID
    version: int
    event: str
    actor: str
    from_state: str | None
    to_state: str
    payload: dict[str, Any]
    request_id: str
    idempotency_key: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = asdict(self)
        out.update(instance_id=str(self.instance_id), created_at=self.created_at.isoformat())
        return out


@dataclass(frozen=True)
class TransitionResult:
    """What :meth:`WorkflowEngine.apply` did.

    Attributes:
        replayed: True when an earlier call with the same idempotency key produced this result
            and nothing was written now.
    """

    instance_id: UUID
    workflow_id: str
    event: str
    actor: str
    from_state: str
    to_state: str
    version: int
    audit_id: int
    request_id: str
    at: datetime
    replayed: bool = field(default=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = asdict(self)
        out.update(instance_id=str(self.instance_id), at=self.at.isoformat())
        return out
