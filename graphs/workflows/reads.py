"""Reads of workflow state: one instance, a filtered list, an instance's audit history.

The base of :class:`graphs.workflows.engine.WorkflowEngine` (which adds the writes); nothing
here changes state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from graphs.core.database import Database
from graphs.workflows.catalog import WorkflowCatalog, default_catalog
from graphs.workflows.errors import InvalidActorError, UnknownInstanceError
from graphs.workflows.model import Actor, Transition
from graphs.workflows.records import AuditEntry, Instance, Subject
from graphs.workflows.sql import INSTANCE_COLUMNS

Conn = psycopg.AsyncConnection[Any]


class WorkflowReads:
    """Query workflow instances and their audit history.

    Args:
        db: The application database.
        catalog: Workflow definitions; the shipped 14 by default.
    """

    def __init__(self, db: Database, catalog: WorkflowCatalog | None = None) -> None:
        self.db = db
        self.catalog = catalog or default_catalog()
        self._candidate_cache: dict[tuple[str, str], tuple[list[str], list[str], list[str]]] = {}

    # ------------------------------------------------------------------- reads
    async def get(self, instance_id: UUID | str) -> Instance:
        """Return one instance.

        Raises:
            UnknownInstanceError: no such instance.
        """
        async with self.db.connection() as c:
            return await self._get(c, parse_instance_id(instance_id))

    async def find(
        self,
        *,
        workflow_id: str | None = None,
        state: str | None = None,
        subject: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Instance]:
        """List instances, newest first, filtered by workflow, state and/or subject.

        Args:
            workflow_id: Only this workflow (case-insensitive).
            state: Only instances currently in this state.
            subject: ``TYPE:ID`` for an exact subject, or a bare ``ID`` of any type.
            limit: At most this many rows (1-1000).
            offset: Skip this many rows (pagination).
        """
        clauses: list[str] = []
        params: list[object] = []
        if workflow_id is not None:
            clauses.append("workflow_id = %s")
            params.append(self.catalog.get(workflow_id).id)
        if state is not None:
            clauses.append("state = %s")
            params.append(state)
        if subject is not None:
            kind, sep, ident = subject.partition(":")
            if sep:
                clauses.append("subject_type = %s AND subject_id = %s")
                params.extend([kind.lower(), ident])
            else:
                clauses.append("subject_id = %s")
                params.append(subject)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.extend([max(1, min(limit, 1000)), max(0, offset)])
        query = (
            f"SELECT {INSTANCE_COLUMNS} FROM workflow_instances {where} "
            "ORDER BY created_at DESC, id LIMIT %s OFFSET %s"
        )
        async with self.db.connection() as c:
            rows = await (await c.cursor(row_factory=dict_row).execute(query, params)).fetchall()
        return [instance_from_row(r) for r in rows]

    async def history(self, instance_id: UUID | str) -> list[AuditEntry]:
        """Every audit row of an instance, oldest first (the first is its ``start``).

        Raises:
            UnknownInstanceError: no such instance.
        """
        iid = parse_instance_id(instance_id)
        async with self.db.connection() as c:
            rows = await (
                await c.cursor(row_factory=dict_row).execute(
                    "SELECT id, instance_id, version, event, actor, from_state, to_state, payload,"
                    " request_id, idempotency_key, created_at FROM workflow_audit"
                    " WHERE instance_id = %s ORDER BY version",
                    (iid,),
                )
            ).fetchall()
        if not rows:
            raise UnknownInstanceError(instance_id)
        return [AuditEntry(**r) for r in rows]

    def available(self, instance: Instance, actor: Actor | str | None = None) -> list[Transition]:
        """Transitions possible from the instance's state, optionally only those ``actor`` owns."""
        wf = self.catalog.get(instance.workflow_id)
        options = wf.outgoing(instance.state)
        if actor is None:
            return options
        role = parse_actor(actor).role
        return [t for t in options if t.owner == role]

    # ----------------------------------------------------------------- helpers
    @asynccontextmanager
    async def _conn(self, conn: Conn | None) -> AsyncIterator[Conn]:
        if conn is not None:
            yield conn
        else:
            async with self.db.connection() as c:
                yield c

    async def _get(self, c: Conn, iid: UUID) -> Instance:
        row = await (
            await c.cursor(row_factory=dict_row).execute(
                f"SELECT {INSTANCE_COLUMNS} FROM workflow_instances WHERE id = %s", (iid,)
            )
        ).fetchone()
        if row is None:
            raise UnknownInstanceError(iid)
        return instance_from_row(row)


def instance_from_row(r: dict[str, Any]) -> Instance:
    """An :class:`Instance` from a ``workflow_instances`` row (``INSTANCE_COLUMNS``)."""
    return Instance(
        id=r["id"],
        workflow_id=r["workflow_id"],
        state=r["state"],
        version=r["version"],
        subject=Subject(r["subject_type"], r["subject_id"]),
        data=r["data"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def parse_actor(actor: Actor | str) -> Actor:
    """``actor`` as an :class:`Actor` (``"nyra"``, ``"human:ana"``, ...).

    Raises:
        InvalidActorError: not a known role.
    """
    if isinstance(actor, Actor):
        return actor
    try:
        return Actor.parse(actor)
    except ValueError as exc:
        raise InvalidActorError(str(exc)) from exc


def parse_instance_id(value: UUID | str) -> UUID:
    """An instance id as a UUID.

    Raises:
        UnknownInstanceError: not a UUID (so no such instance).
    """
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError as exc:
        raise UnknownInstanceError(value) from exc
