"""Playbook runs, their steps, rollbacks and analytics in PostgreSQL (migration ``0007``).

The LangGraph checkpoint holds a run's control state (what is done, what waits); these tables
are the queryable record people and dashboards read: status, every step's package and
transition, how often a step body executed (``executions``: more than one only after a crash
or a retry — the workflow engine's idempotency keys keep the *transition* single), rollbacks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from graphs.core.database import Database

RunStatus = Literal[
    "running", "waiting_approval", "completed", "failed", "cancelled", "rolled_back"
]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "cancelled", "rolled_back"})


class UnknownRunError(LookupError):
    """No playbook run with that id."""

    def __init__(self, run_id: object) -> None:
        super().__init__(f"no playbook run {run_id}")
        self.run_id = run_id

    def __str__(self) -> str:
        return str(self.args[0])


class StepRecord(BaseModel):
    """One step of a run as recorded."""

    step_id: str
    kind: str
    persona: str
    status: str
    attempts: int
    executions: int
    output: dict[str, Any] | None = None
    transition: dict[str, Any] | None = None
    error: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    seq: int | None = None


class RunRecord(BaseModel):
    """One playbook run."""

    id: UUID
    playbook_id: str
    version: int
    status: RunStatus
    params: dict[str, Any]
    instances: dict[str, str]
    requested_by: str
    cancel_requested: bool
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    steps: list[StepRecord] = []

    @property
    def finished(self) -> bool:
        """True once the run can change no more (rollback aside)."""
        return self.status in FINISHED


_RUN_COLS = (
    "id, playbook_id, version, status, params, instances, requested_by, cancel_requested, error,"
    " created_at, updated_at, finished_at"
)
_STEP_COLS = (
    "step_id, kind, persona, status, attempts, executions, output, transition, error,"
    " started_at, finished_at, seq"
)


@asynccontextmanager
async def _relaxed(db: Database) -> AsyncIterator[Any]:
    """A transaction with ``synchronous_commit = off`` for step bookkeeping.

    Step rows are a record of what the checkpoint and the engine already hold durably; a server
    crash may lose the last few hundred milliseconds of them (PostgreSQL docs, "Asynchronous
    Commit"), never corrupt them. Saves a WAL flush per write (``grace bench playbooks``).
    """
    async with db.connection() as c, c.transaction():
        await c.execute("SET LOCAL synchronous_commit = off")
        yield c


class PlaybookStore:
    """Reads and writes of the playbook tables.

    Args:
        db: The application database (migrated to ``0007`` or later).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_run(
        self, playbook_id: str, version: int, params: dict[str, Any], requested_by: str,
        instances: dict[str, str] | None = None,
    ) -> RunRecord:  # fmt: skip
        """Insert a run in status ``running`` and return it."""
        async with self.db.connection() as c:
            row = await (
                await c.cursor(row_factory=dict_row).execute(
                    "INSERT INTO playbook_runs (playbook_id, version, status, params, instances,"
                    f" requested_by) VALUES (%s, %s, 'running', %s, %s, %s) RETURNING {_RUN_COLS}",
                    (playbook_id, version, Jsonb(params), Jsonb(instances or {}), requested_by),
                )
            ).fetchone()
        assert row is not None
        return RunRecord(**row)

    async def get(self, run_id: UUID | str, *, steps: bool = True) -> RunRecord:
        """One run (with its steps in execution order unless ``steps`` is False).

        Raises:
            UnknownRunError: no such run.
        """
        rid = _uuid(run_id)
        async with self.db.connection() as c:
            cur = c.cursor(row_factory=dict_row)
            row = await (
                await cur.execute(f"SELECT {_RUN_COLS} FROM playbook_runs WHERE id = %s", (rid,))
            ).fetchone()
            if row is None:
                raise UnknownRunError(run_id)
            rows = []
            if steps:
                rows = await (
                    await cur.execute(
                        f"SELECT {_STEP_COLS} FROM playbook_steps WHERE run_id = %s"
                        " ORDER BY seq NULLS LAST, started_at",
                        (rid,),
                    )
                ).fetchall()
        return RunRecord(**row, steps=[StepRecord(**r) for r in rows])

    async def set_status(
        self, run_id: UUID | str, status: RunStatus, *, error: str | None = None
    ) -> None:
        """Move a run to ``status`` (sets ``finished_at`` for final ones)."""
        async with self.db.connection() as c:
            await c.execute(
                "UPDATE playbook_runs SET status = %s, error = COALESCE(%s, error),"
                " updated_at = now(), finished_at = CASE WHEN %s THEN now() ELSE NULL END"
                " WHERE id = %s",
                (status, error, status in FINISHED, _uuid(run_id)),
            )

    async def add_instance(self, run_id: UUID | str, workflow_id: str, instance_id: str) -> None:
        """Record the workflow instance a run acts on."""
        async with self.db.connection() as c:
            await c.execute(
                "UPDATE playbook_runs SET instances = instances || %s, updated_at = now()"
                " WHERE id = %s",
                (Jsonb({workflow_id: instance_id}), _uuid(run_id)),
            )

    async def request_cancel(self, run_id: UUID | str) -> bool:
        """Flag a run for cancellation; False when it already finished.

        Raises:
            UnknownRunError: no such run.
        """
        async with self.db.connection() as c:
            row = await (
                await c.execute(
                    "UPDATE playbook_runs SET cancel_requested = true, updated_at = now()"
                    " WHERE id = %s RETURNING status",
                    (_uuid(run_id),),
                )
            ).fetchone()
        if row is None:
            raise UnknownRunError(run_id)
        return str(row[0]) not in FINISHED

    async def cancel_requested(self, run_id: UUID | str) -> bool:
        """True when someone asked to cancel the run."""
        async with self.db.connection() as c:
            row = await (
                await c.execute(
                    "SELECT cancel_requested FROM playbook_runs WHERE id = %s", (_uuid(run_id),)
                )
            ).fetchone()
        return bool(row and row[0])

    async def step_started(
        self, run_id: UUID | str, step_id: str, kind: str, persona: str, status: str = "running"
    ) -> int:
        """Record that a step body begins (again); returns how many times it has begun.

        ``status="waiting"`` (an approval gate reached) does not count as an execution.
        """
        n = 0 if status == "waiting" else 1
        async with _relaxed(self.db) as c:
            row = await (
                await c.execute(
                    "INSERT INTO playbook_steps (run_id, step_id, kind, persona, status,"
                    " executions) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, step_id)"
                    " DO UPDATE SET executions = playbook_steps.executions + EXCLUDED.executions,"
                    " status = EXCLUDED.status RETURNING executions",
                    (_uuid(run_id), step_id, kind, persona, status, n),
                )
            ).fetchone()
        assert row is not None
        return int(row[0])

    async def step_finished(
        self,
        run_id: UUID | str,
        step_id: str,
        *,
        status: Literal["completed", "failed", "waiting"],
        attempts: int,
        output: dict[str, Any] | None = None,
        transition: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record a step's outcome; completed steps get the next completion sequence number."""
        async with _relaxed(self.db) as c:
            await c.execute(
                "UPDATE playbook_steps SET status = %s, attempts = %s, output = %s,"
                " transition = %s, error = %s, finished_at = now(),"
                " seq = CASE WHEN %s = 'completed' THEN nextval('playbook_step_seq') END"
                " WHERE run_id = %s AND step_id = %s",
                (status, attempts, Jsonb(output) if output is not None else None,
                 Jsonb(transition) if transition is not None else None, error, status,
                 _uuid(run_id), step_id),
            )  # fmt: skip

    async def mark_compensated(self, run_id: UUID | str, step_id: str) -> None:
        """Record that a rollback undid this step."""
        async with self.db.connection() as c:
            await c.execute(
                "UPDATE playbook_steps SET status = 'compensated' WHERE run_id = %s"
                " AND step_id = %s",
                (_uuid(run_id), step_id),
            )

    async def record_rollback(
        self, run_id: UUID | str, strategy: str, checkpoint: str | None, requested_by: str,
        outcome: str, report: dict[str, Any],
    ) -> None:  # fmt: skip
        """Append the audit row of one rollback."""
        async with self.db.connection() as c:
            await c.execute(
                "INSERT INTO playbook_rollbacks (run_id, strategy, checkpoint, requested_by,"
                " outcome, report) VALUES (%s, %s, %s, %s, %s, %s)",
                (_uuid(run_id), strategy, checkpoint, requested_by, outcome, Jsonb(report)),
            )

    async def history(self, playbook_id: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Runs, newest first (without steps)."""
        where, params = ("WHERE playbook_id = %s", [playbook_id]) if playbook_id else ("", [])
        async with self.db.connection() as c:
            rows = await (
                await c.cursor(row_factory=dict_row).execute(
                    f"SELECT {_RUN_COLS} FROM playbook_runs {where}"
                    " ORDER BY created_at DESC LIMIT %s",
                    [*params, max(1, min(limit, 500))],
                )
            ).fetchall()
        return [RunRecord(**r) for r in rows]

    async def analytics(self) -> list[dict[str, Any]]:
        """Per playbook: runs by status, success rate of finished runs, duration p50/mean (s)."""
        async with self.db.connection() as c:
            rows = await (
                await c.cursor(row_factory=dict_row).execute(
                    "SELECT playbook_id, count(*) AS runs,"
                    " count(*) FILTER (WHERE status = 'completed') AS completed,"
                    " count(*) FILTER (WHERE status = 'failed') AS failed,"
                    " count(*) FILTER (WHERE status = 'cancelled') AS cancelled,"
                    " count(*) FILTER (WHERE status = 'rolled_back') AS rolled_back,"
                    " count(*) FILTER (WHERE status IN ('running', 'waiting_approval'))"
                    " AS in_progress,"
                    " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM"
                    " finished_at - created_at)) FILTER (WHERE status = 'completed') AS p50_s,"
                    " avg(extract(epoch FROM finished_at - created_at))"
                    " FILTER (WHERE status = 'completed') AS mean_s"
                    " FROM playbook_runs GROUP BY playbook_id ORDER BY playbook_id"
                )
            ).fetchall()
        out = []
        for r in rows:
            done = r["completed"] + r["failed"] + r["cancelled"] + r["rolled_back"]
            r["success_rate"] = round(r["completed"] / done, 3) if done else None
            for k in ("p50_s", "mean_s"):
                r[k] = round(float(r[k]), 3) if r[k] is not None else None
            out.append(dict(r))
        return out

    async def success_rates(self) -> dict[str, tuple[int, int]]:
        """Playbook id → (completed runs, finished runs)."""
        return {
            a["playbook_id"]: (
                a["completed"],
                a["completed"] + a["failed"] + a["cancelled"] + a["rolled_back"],
            )
            for a in await self.analytics()
        }


def _uuid(value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError as exc:
        raise UnknownRunError(value) from exc
