"""Typed refusals of the workflow engine.

Every refusal leaves the database untouched. Each error carries a stable ``code`` (used as the
RFC 9457 problem ``type`` suffix by the API) and a message written for the person or agent who
tried the step.
"""

from __future__ import annotations

from collections.abc import Sequence


class WorkflowError(Exception):
    """Base class of every workflow refusal.

    Attributes:
        code: Stable machine-readable identifier, e.g. ``not-owner``.
        status: The HTTP status an API should answer with.
    """

    code = "workflow-error"
    status = 400


class UnknownWorkflowError(WorkflowError):
    """No workflow has this id."""

    code = "unknown-workflow"
    status = 404

    def __init__(self, workflow_id: str, known: Sequence[str] = ()) -> None:
        self.workflow_id = workflow_id
        hint = f" (known: {', '.join(known)})" if known else ""
        super().__init__(f"unknown workflow {workflow_id!r}{hint}")


class UnknownInstanceError(WorkflowError):
    """No workflow instance has this id."""

    code = "unknown-instance"
    status = 404

    def __init__(self, instance_id: object) -> None:
        self.instance_id = instance_id
        super().__init__(f"no workflow instance {instance_id}")


class UnknownEventError(WorkflowError):
    """The event is not part of the instance's workflow at all."""

    code = "unknown-event"
    status = 422

    def __init__(self, workflow_id: str, event: str, allowed: Sequence[str]) -> None:
        self.workflow_id, self.event, self.allowed = workflow_id, event, list(allowed)
        now = f"; events possible now: {', '.join(allowed)}" if allowed else ""
        super().__init__(f"{workflow_id} has no event {event!r}{now}")


class InvalidTransitionError(WorkflowError):
    """The event exists in the workflow but not from the instance's current state."""

    code = "invalid-transition"
    status = 409

    def __init__(self, workflow_id: str, state: str, event: str, allowed: Sequence[str]) -> None:
        self.workflow_id, self.state, self.event = workflow_id, state, event
        self.allowed = list(allowed)
        now = ", ".join(allowed) if allowed else f"none ({state} is a final state)"
        super().__init__(
            f"{workflow_id}: {event!r} cannot happen in state {state!r}; events possible now: {now}"
        )


class NotOwnerError(WorkflowError):
    """The actor does not own the transition it tried to fire."""

    code = "not-owner"
    status = 403

    def __init__(self, workflow_id: str, event: str, actor: str, owner: str) -> None:
        self.workflow_id, self.event, self.actor, self.owner = workflow_id, event, actor, owner
        super().__init__(self._message())

    def _message(self) -> str:
        return (
            f"{self.actor} may not fire {self.event!r} on {self.workflow_id}: "
            f"only {self.owner} owns this step"
        )


class HumanApprovalRequiredError(NotOwnerError):
    """An agent tried a step that a person must take (client, expert or staff approval).

    The supervisor turns this into a level-4 escalation.
    """

    code = "human-approval-required"

    def _message(self) -> str:
        return (
            f"{self.event!r} on {self.workflow_id} needs a human approval; {self.actor} cannot "
            "take it. Escalate to a person (level 4)."
        )


class ConflictError(WorkflowError):
    """The instance changed underneath the caller."""

    code = "conflict"
    status = 409


class StaleVersionError(ConflictError):
    """The caller's ``expected_version`` is not the instance's current version."""

    code = "stale-version"

    def __init__(self, instance_id: object, expected: int, actual: int) -> None:
        self.instance_id, self.expected, self.actual = instance_id, expected, actual
        super().__init__(
            f"instance {instance_id} is at version {actual}, not {expected}: reload and retry"
        )


class ConcurrentUpdateError(ConflictError):
    """Another transition on the same instance committed first."""

    code = "concurrent-update"

    def __init__(self, instance_id: object, event: str) -> None:
        self.instance_id, self.event = instance_id, event
        super().__init__(
            f"instance {instance_id} changed while applying {event!r}: another update won; "
            "reload and retry"
        )


class IdempotencyKeyReusedError(ConflictError):
    """An idempotency key was reused for a different request."""

    code = "idempotency-key-reused"
    status = 422

    def __init__(self, key: str, first: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was already used for {first}")


class InvalidPayloadError(WorkflowError):
    """The payload or instance data is not a JSON object."""

    code = "invalid-payload"
    status = 422


class InvalidActorError(WorkflowError):
    """The actor is not a persona, ``system`` or ``human[:name]``."""

    code = "invalid-actor"
    status = 422
