"""The workflow engine: the only code path that changes business state.

Every change is checked (event known, allowed from the current state, fired by its owner,
optional expected version) before anything is written. A write is one atomic SQL statement that
updates the instance with optimistic concurrency (``WHERE id AND state AND version``) and appends
the audit row; a repeated idempotency key returns the first result and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import psycopg
import structlog
from psycopg import errors as pgerrors
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from graphs.core.context import current_request_id
from graphs.workflows.errors import (
    ConcurrentUpdateError,
    HumanApprovalRequiredError,
    IdempotencyKeyReusedError,
    InvalidPayloadError,
    InvalidTransitionError,
    NotOwnerError,
    StaleVersionError,
    UnknownEventError,
    UnknownInstanceError,
)
from graphs.workflows.model import HUMAN, Actor, Transition
from graphs.workflows.reads import WorkflowReads, parse_actor, parse_instance_id
from graphs.workflows.records import Instance, Subject, TransitionResult
from graphs.workflows.sql import APPLY, WRITE_START

log = structlog.get_logger("grace.workflows")

Conn = psycopg.AsyncConnection[Any]
START_EVENT = "start"


class WorkflowEngine(WorkflowReads):
    """Start workflow instances, apply owned transitions, and query state and history.

    The reads (``get``, ``find``, ``history``, ``available``) are
    :class:`graphs.workflows.reads.WorkflowReads`'.

    Args:
        db: The application database.
        catalog: Workflow definitions; the shipped 14 by default.
    """

    # ------------------------------------------------------------------ writes
    async def start(
        self,
        workflow_id: str,
        subject: Subject | str,
        *,
        actor: Actor | str = "system",
        data: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
        conn: Conn | None = None,
    ) -> Instance:
        """Create an instance of ``workflow_id`` in its initial state.

        Args:
            workflow_id: e.g. ``WF-WELL-BOOK`` (case-insensitive).
            subject: ``TYPE:ID``, a bare id (takes the workflow's default subject type), or a
                :class:`Subject`.
            actor: Who starts it; recorded in the audit row.
            data: JSON object kept with the instance.
            idempotency_key: A repeated key returns the instance the first call created.
            request_id: Correlation id for the audit row (defaults to the context's).
            conn: Run inside the caller's transaction instead of a pooled connection.

        Returns:
            The new (or, for a repeated key, the existing) instance.

        Raises:
            UnknownWorkflowError: no such workflow.
            InvalidActorError: ``actor`` is not valid.
            InvalidPayloadError: ``data`` is not a JSON object, or ``subject`` is malformed.
            IdempotencyKeyReusedError: the key was used for a different request.
        """
        wf = self.catalog.get(workflow_id)
        who = parse_actor(actor)
        try:
            subj = subject if isinstance(subject, Subject) else Subject.parse(subject, wf.subject)
        except ValueError as exc:
            raise InvalidPayloadError(str(exc)) from exc
        body = _json_object(data, "instance data")
        async with self._conn(conn) as c:
            if idempotency_key is not None:
                prior = await self._start_replay(c, idempotency_key, wf.id)
                if prior is not None:
                    return prior
            params = {
                "workflow_id": wf.id,
                "state": wf.initial_state,
                "subject_type": subj.type,
                "subject_id": subj.id,
                "data": Jsonb(body),
                "actor": str(who),
                "request_id": request_id or current_request_id(),
                "key": idempotency_key,
            }
            try:
                async with _atomic(c):
                    row = await (await c.execute(WRITE_START, params)).fetchone()
            except pgerrors.UniqueViolation:
                assert idempotency_key is not None  # the only unique key a start can hit
                prior = await self._start_replay(c, idempotency_key, wf.id)
                if prior is None:  # pragma: no cover - the winner is committed by now
                    raise
                return prior
            assert row is not None
            instance = await self._get(c, row[0])
        log.info("workflow.started", workflow=wf.id, instance=str(instance.id), actor=str(who))
        return instance

    async def apply(
        self,
        instance_id: UUID | str,
        event: str,
        actor: Actor | str,
        idempotency_key: str | None = None,
        payload: Mapping[str, Any] | None = None,
        *,
        expected_version: int | None = None,
        request_id: str | None = None,
        conn: Conn | None = None,
    ) -> TransitionResult:
        """Fire ``event`` on an instance as ``actor``.

        Args:
            instance_id: The instance.
            event: Event name from the instance's workflow.
            actor: ``nyra``…``atlas``, ``system``, ``human`` or ``human:NAME``.
            idempotency_key: A repeated key returns the first call's result and writes nothing.
            payload: JSON object stored in the audit row.
            expected_version: Refuse unless the instance is at exactly this version.
            request_id: Correlation id for the audit row (defaults to the context's).
            conn: Run inside the caller's transaction (a savepoint guards the write).

        Returns:
            The applied (or replayed) transition.

        Raises:
            UnknownInstanceError: no such instance.
            UnknownEventError: the workflow has no such event.
            InvalidTransitionError: the event is not possible from the current state.
            HumanApprovalRequiredError: the step is owned by ``human`` and the actor is not one.
            NotOwnerError: the actor does not own the step.
            StaleVersionError: ``expected_version`` does not match.
            ConcurrentUpdateError: another transition on this instance committed first.
            IdempotencyKeyReusedError: the key was used for a different request.
            InvalidActorError, InvalidPayloadError: malformed input.
        """
        who = parse_actor(actor)
        body = _json_object(payload, "payload")
        iid = parse_instance_id(instance_id)
        c_wf, c_from, c_to = self._candidates(event, who.role)
        rid = request_id or current_request_id()
        params = {
            "c_wf": c_wf,
            "c_from": c_from,
            "c_to": c_to,
            "id": iid,
            "key": idempotency_key,
            "expected": expected_version,
            "event": event,
            "actor": str(who),
            "payload": Jsonb(body),
            "request_id": rid,
        }
        if conn is not None:
            row = await self._run_apply(conn, params)
        else:
            async with self.db.pool.connection() as c:
                row = await self._run_apply(c, params)
        if row is None:
            raise UnknownInstanceError(instance_id)
        if row["w_id"] is None:
            if row["p_id"] is not None:
                return _replay(row, iid, event, str(who), idempotency_key or "")
            self._explain_refusal(row, iid, event, who, expected_version)
            # Every check passed, yet nothing was written: another write on this instance
            # committed first. If it carried our idempotency key, this call is a replay.
            if idempotency_key is not None:
                params.update(c_wf=[], c_from=[], c_to=[])
                if conn is not None:
                    again = await self._run_apply(conn, params)
                else:
                    async with self.db.pool.connection() as c:
                        again = await self._run_apply(c, params)
                if again is not None and again["p_id"] is not None:
                    return _replay(again, iid, event, str(who), idempotency_key)
            raise ConcurrentUpdateError(iid, event)
        log.info(
            "workflow.transition",
            workflow=row["workflow_id"],
            instance=str(iid),
            transition=f"{row['state']}->{row['w_to']}",
            trigger=event,
            actor=str(who),
        )
        return TransitionResult(
            instance_id=iid,
            workflow_id=row["workflow_id"],
            event=event,
            actor=str(who),
            from_state=row["state"],
            to_state=row["w_to"],
            version=row["w_version"],
            audit_id=row["w_id"],
            request_id=rid,
            at=row["w_at"],
        )

    @staticmethod
    async def _run_apply(c: Conn, params: dict[str, Any]) -> dict[str, Any] | None:
        """Execute :data:`APPLY`; inside a caller's transaction, under a savepoint."""
        cur = c.cursor(row_factory=dict_row)
        in_tx = c.info.transaction_status != TransactionStatus.IDLE or not c.autocommit
        try:
            if in_tx:
                async with c.transaction():
                    return await (await cur.execute(APPLY, params)).fetchone()
            return await (await cur.execute(APPLY, params)).fetchone()
        except pgerrors.UniqueViolation:
            # The same idempotency key committed concurrently: read again, write nothing.
            retry = dict(params, c_wf=[], c_from=[], c_to=[])
            return await (await cur.execute(APPLY, retry)).fetchone()

    def _candidates(self, event: str, role: str) -> tuple[list[str], list[str], list[str]]:
        """Transitions ``role`` owns for ``event`` across all workflows, as parallel arrays."""
        key = (event, role)
        hit = self._candidate_cache.get(key)
        if hit is None:
            pairs = [
                (wf.id, t)
                for wf in self.catalog
                for t in wf.transitions
                if t.event == event and t.owner == role
            ]
            hit = ([w for w, _ in pairs], [t.from_state for _, t in pairs],
                   [t.to_state for _, t in pairs])  # fmt: skip
            self._candidate_cache[key] = hit
        return hit

    def _explain_refusal(
        self, row: dict[str, Any], iid: UUID, event: str, who: Actor, expected: int | None
    ) -> None:
        """Raise the precise error for an apply that wrote nothing (checks in engine order).

        Returns normally when every check passes on the row read, which means a concurrent
        transition won the race.
        """
        wf = self.catalog.get(row["workflow_id"])
        state, version = row["state"], row["version"]
        transition = wf.transition(state, event)
        if transition is None:
            allowed = [t.event for t in wf.outgoing(state)]
            if event not in wf.events:
                raise UnknownEventError(wf.id, event, allowed)
            raise InvalidTransitionError(wf.id, state, event, allowed)
        _check_owner(wf.id, transition, who)
        if expected is not None and expected != version:
            raise StaleVersionError(iid, expected, version)

    async def _start_replay(self, c: Conn, key: str, workflow_id: str) -> Instance | None:
        row = await (
            await c.execute(
                "SELECT a.instance_id, a.event, i.workflow_id FROM workflow_audit a"
                " JOIN workflow_instances i ON i.id = a.instance_id WHERE a.idempotency_key = %s",
                (key,),
            )
        ).fetchone()
        if row is None:
            return None
        if row[1] != START_EVENT or row[2] != workflow_id:
            raise IdempotencyKeyReusedError(key, f"{row[1]!r} on instance {row[0]}")
        return await self._get(c, row[0])


@asynccontextmanager
async def _atomic(c: Conn) -> AsyncIterator[None]:
    """A savepoint inside a caller's transaction; nothing extra for one autocommit statement."""
    if c.info.transaction_status == TransactionStatus.IDLE and c.autocommit:
        yield
    else:
        async with c.transaction():
            yield


def _check_owner(workflow_id: str, transition: Transition, who: Actor) -> None:
    if who.role == transition.owner:
        return
    if transition.owner == HUMAN:
        raise HumanApprovalRequiredError(workflow_id, transition.event, str(who), HUMAN)
    raise NotOwnerError(workflow_id, transition.event, str(who), transition.owner)


def _replay(row: dict[str, Any], iid: UUID, event: str, actor: str, key: str) -> TransitionResult:
    if row["p_instance"] != iid or row["p_event"] != event or row["p_actor"] != actor:
        first = f"{row['p_event']!r} by {row['p_actor']} on instance {row['p_instance']}"
        raise IdempotencyKeyReusedError(key, first)
    return TransitionResult(
        instance_id=iid,
        workflow_id=row["workflow_id"],
        event=event,
        actor=actor,
        from_state=row["p_from"] or "",
        to_state=row["p_to"],
        version=row["p_version"],
        audit_id=row["p_id"],
        request_id=row["p_request_id"],
        at=row["p_at"],
        replayed=True,
    )


def _json_object(value: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidPayloadError(f"{what} must be a JSON object, got {type(value).__name__}")
    try:
        return dict(json.loads(json.dumps(dict(value))))
    except (TypeError, ValueError) as exc:
        raise InvalidPayloadError(f"{what} is not JSON-serialisable: {exc}") from exc
