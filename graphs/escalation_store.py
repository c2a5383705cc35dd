"""Level-4 escalations that staff list and resolve (``escalations`` table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from graphs.core.database import Database


class EscalationNotFoundError(LookupError):
    """No escalation has this id."""


class EscalationAlreadyResolvedError(RuntimeError):
    """The escalation was already decided."""


@dataclass(frozen=True)
class EscalationRecord:
    """One request for a person's decision.

    Attributes:
        kind: ``approval`` (a ``human``-owned workflow step a persona asked for) or ``handoff``
            (the conversation needs a person: legal, VIP, dispute, explicit request…).
        status: ``pending``, ``approved`` or ``rejected``.
    """

    id: UUID
    thread_id: str
    turn: int
    interrupt_id: str
    kind: str
    level: int
    persona: str | None
    workflow_id: str | None
    instance_id: UUID | None
    event: str | None
    reasons: list[str]
    summary: str
    status: str
    decided_by: str | None
    note: str | None
    created_at: datetime
    resolved_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["id"], out["instance_id"] = str(self.id), str(self.instance_id or "") or None
        for k in ("created_at", "resolved_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


class EscalationRepository:
    """Records and queries escalations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self, *, thread_id: str, turn: int, interrupt_id: str, payload: dict[str, Any]
    ) -> EscalationRecord:
        """Insert (or return the existing) escalation for an interrupt of a thread."""
        async with self.db.connection() as c:
            await c.execute(
                "INSERT INTO escalations (thread_id, turn, interrupt_id, kind, level, persona,"
                " workflow_id, instance_id, event, reasons, summary)"
                " VALUES (%s, %s, %s, %s, 4, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (thread_id, interrupt_id) DO NOTHING",
                (
                    thread_id,
                    turn,
                    interrupt_id,
                    payload.get("kind", "handoff"),
                    payload.get("persona"),
                    payload.get("workflow_id"),
                    payload.get("instance_id"),
                    payload.get("event"),
                    Jsonb(list(payload.get("reasons", []))),
                    str(payload.get("summary", "")),
                ),
            )
            row = await (
                await c.cursor(row_factory=dict_row).execute(
                    "SELECT * FROM escalations WHERE thread_id = %s AND interrupt_id = %s",
                    (thread_id, interrupt_id),
                )
            ).fetchone()
        assert row is not None
        return EscalationRecord(**row)

    async def get(self, escalation_id: UUID | str) -> EscalationRecord:
        """One escalation.

        Raises:
            EscalationNotFoundError: no such escalation.
        """
        try:
            eid = UUID(str(escalation_id))
        except ValueError as exc:
            raise EscalationNotFoundError(f"no escalation {escalation_id}") from exc
        async with self.db.connection() as c:
            row = await (
                await c.cursor(row_factory=dict_row).execute(
                    "SELECT * FROM escalations WHERE id = %s", (eid,)
                )
            ).fetchone()
        if row is None:
            raise EscalationNotFoundError(f"no escalation {escalation_id}")
        return EscalationRecord(**row)

    async def list(
        self, *, status: str | None = "pending", thread_id: str | None = None, limit: int = 100
    ) -> list[EscalationRecord]:
        """Escalations, oldest pending first."""
        clauses, params = [], []
        if status:
            clauses.append("status = %s")
            params.append(status)
        if thread_id:
            clauses.append("thread_id = %s")
            params.append(thread_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.db.connection() as c:
            rows = await (
                await c.cursor(row_factory=dict_row).execute(
                    f"SELECT * FROM escalations{where} ORDER BY created_at LIMIT %s",
                    [*params, limit],
                )
            ).fetchall()
        return [EscalationRecord(**r) for r in rows]

    async def mark_resolved(
        self, escalation_id: UUID, *, approved: bool, by: str, note: str | None
    ) -> None:
        """Record the decision (only a pending escalation can be decided).

        Raises:
            EscalationAlreadyResolvedError: it was decided before.
        """
        async with self.db.connection() as c:
            cur = await c.execute(
                "UPDATE escalations SET status = %s, decided_by = %s, note = %s,"
                " resolved_at = now() WHERE id = %s AND status = 'pending'",
                ("approved" if approved else "rejected", by, note, escalation_id),
            )
        if cur.rowcount == 0:
            raise EscalationAlreadyResolvedError(f"escalation {escalation_id} is already decided")
