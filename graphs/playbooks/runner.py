"""Start, advance, approve, resume and cancel playbook runs.

A run is one LangGraph thread (``playbook:<run id>``) in the Postgres checkpointer plus a row
in ``playbook_runs``. :meth:`PlaybookRunner.start` refuses a playbook that does not pass
``strict`` validation against the workflow data the engine has loaded *now*, so a change of
transition owners is caught before anything moves.
"""

from __future__ import annotations

import time
from typing import Any, Literal
from uuid import UUID

from langgraph.types import Command

from graphs.core.database import Database
from graphs.playbooks.compile import compile_playbook
from graphs.playbooks.model import Playbook, PlaybookCatalog, PlaybookError, default_playbooks
from graphs.playbooks.steps import AfterApply, EventSink, Lookup, Services
from graphs.playbooks.store import PlaybookStore, RunRecord
from graphs.playbooks.validate import Report, validate
from graphs.workflows.engine import WorkflowEngine

Durability = Literal["sync", "async", "exit"]


class PlaybookInvalidError(PlaybookError):
    """The playbook failed validation; ``report`` lists every issue."""

    def __init__(self, report: Report) -> None:
        lines = "; ".join(str(i) for i in report.issues[:5])
        super().__init__(f"{report.playbook} fails {report.level} validation: {lines}")
        self.report = report


class RunStateError(PlaybookError):
    """The run is not in a state that allows this operation (e.g. approving a finished run)."""


def thread_config(run_id: UUID | str) -> dict[str, Any]:
    """The LangGraph config of a run's thread."""
    return {"configurable": {"thread_id": f"playbook:{run_id}"}}


class PlaybookRunner:
    """Runs playbooks on LangGraph with the workflow engine.

    Args:
        db: The application database.
        checkpointer: A LangGraph checkpointer (``PooledPostgresSaver`` for durable runs).
        playbooks: Definitions; the built-ins by default.
        engine: The workflow engine; a new one on ``db`` by default.
        lookup: Knowledge lookup for ``lookup`` steps.
        sinks: Progress event receivers (webhooks, metrics, a CLI printer…).
        after_apply: Test hook, see :class:`~graphs.playbooks.steps.Services`.
        writer: Chat model for handoff notes (the runtime's provider model; None offline).
        durability: LangGraph checkpoint durability. ``sync`` (default): each superstep's
            checkpoint is committed before the next starts, so a crash re-runs at most the
            steps in flight. ``async`` overlaps the write with the next superstep (faster; a
            crash may also re-run the steps just finished, which replay through the engine's
            idempotency keys and change nothing twice).
    """

    def __init__(
        self,
        db: Database,
        checkpointer: Any,
        *,
        playbooks: PlaybookCatalog | None = None,
        engine: WorkflowEngine | None = None,
        lookup: Lookup | None = None,
        sinks: list[EventSink] | None = None,
        after_apply: AfterApply | None = None,
        writer: Any = None,
        durability: Durability = "sync",
    ) -> None:
        self.db = db
        self.playbooks = playbooks or default_playbooks()
        self.engine = engine or WorkflowEngine(db)
        self.store = PlaybookStore(db)
        self.services = Services(
            self.engine, self.store, lookup, list(sinks or []), after_apply, writer
        )
        self.checkpointer = checkpointer
        self.durability: Durability = durability
        self._graphs: dict[tuple[str, int], Any] = {}

    def graph(self, pb: Playbook) -> Any:
        """The compiled graph of ``pb`` (compiled once per id and version)."""
        key = (pb.id, pb.version)
        if key not in self._graphs:
            self._graphs[key] = compile_playbook(pb, self.services, self.checkpointer)
        return self._graphs[key]

    def check(self, pb: Playbook) -> Report:
        """Strict validation against the engine's workflow data."""
        return validate(pb, "strict", catalog=self.engine.catalog)

    async def start(
        self,
        playbook_id: str,
        params: dict[str, Any] | None = None,
        *,
        requested_by: str = "operator",
        instances: dict[str, str] | None = None,
    ) -> RunRecord:
        """Validate, record and run a playbook until it finishes or waits for a person.

        Args:
            playbook_id: e.g. ``agency-cycle``.
            params: Run parameters (defaults fill the rest).
            requested_by: Who asked (recorded).
            instances: Existing workflow instances to act on, by workflow id.

        Raises:
            UnknownPlaybookError: no such playbook.
            PlaybookInvalidError: it fails strict validation.
            PlaybookError: bad parameters.
        """
        run = await self.create(playbook_id, params, requested_by=requested_by, instances=instances)
        return await self.drive_new(run)

    async def create(
        self,
        playbook_id: str,
        params: dict[str, Any] | None = None,
        *,
        requested_by: str = "operator",
        instances: dict[str, str] | None = None,
    ) -> RunRecord:
        """The checks and the run row of :meth:`start`, without running anything yet.

        Raises:
            UnknownPlaybookError, PlaybookInvalidError, PlaybookError: as :meth:`start`.
        """
        pb = self.playbooks.get(playbook_id)
        report = self.check(pb)
        if not report.ok:
            raise PlaybookInvalidError(report)
        values = pb.resolve_params(params)
        return await self.store.create_run(pb.id, pb.version, values, requested_by, instances)

    async def drive_new(self, run: RunRecord) -> RunRecord:
        """Run a run made by :meth:`create` until it finishes or waits for a person."""
        pb = self.playbooks.get(run.playbook_id)
        await self.services.emit({"type": "playbook.started", "run_id": str(run.id),
                                  "playbook": pb.id, "version": pb.version})  # fmt: skip
        state = {"run_id": str(run.id), "params": run.params, "done": {}, "failed": {},
                 "instances": dict(run.instances)}  # fmt: skip
        return await self._drive(pb, run.id, state)

    async def _drive(self, pb: Playbook, run_id: UUID | str, command: Any) -> RunRecord:
        config = thread_config(run_id)
        started = time.perf_counter()
        await self.graph(pb).ainvoke(command, config, durability=self.durability)
        snap = await self.graph(pb).aget_state(config)
        if snap.interrupts:
            await self.store.set_status(run_id, "waiting_approval")
            for gate in snap.interrupts:  # emitted here, once: the gate's node re-runs on resume
                await self.services.emit({"type": "playbook.step.waiting", "run_id": str(run_id),
                                          "playbook": pb.id, **gate.value})  # fmt: skip
            return await self.store.get(run_id)
        outcome = str(snap.values.get("outcome") or "failed")
        failed = snap.values.get("failed") or {}
        error = "; ".join(f"{k}: {v}" for k, v in failed.items()) or None
        status = outcome if outcome in ("completed", "cancelled") else "failed"
        await self.store.set_status(run_id, status, error=error)  # type: ignore[arg-type]
        record = await self.store.get(run_id)
        total = (record.finished_at or record.updated_at) - record.created_at
        await self.services.emit({
            "type": f"playbook.{'completed' if status == 'completed' else 'failed'}",
            "run_id": str(run_id), "playbook": pb.id, "status": status, "error": error,
            "duration_s": total.total_seconds(), "drive_s": time.perf_counter() - started,
        })  # fmt: skip
        return record

    async def pending(self, run_id: UUID | str) -> list[dict[str, Any]]:
        """Approval gates a run waits on: ``{"step", "workflow", "event", "description"}``."""
        run = await self.store.get(run_id, steps=False)
        pb = self.playbooks.get(run.playbook_id)
        snap = await self.graph(pb).aget_state(thread_config(run_id))
        return [dict(i.value) for i in snap.interrupts]

    async def approve(
        self, run_id: UUID | str, step_id: str, *, by: str, approved: bool = True, note: str = ""
    ) -> RunRecord:
        """Answer an approval gate and continue the run.

        Args:
            run_id: The run.
            step_id: The approval step waiting.
            by: Who decides (the transition, if any, is fired as ``human:<by>``).
            approved: False refuses: the step, and so the run, fails.
            note: Recorded with the decision.

        Raises:
            UnknownRunError: no such run.
            RunStateError: the run does not wait on ``step_id``.
        """
        run = await self.store.get(run_id, steps=False)
        if run.status != "waiting_approval":
            raise RunStateError(f"run {run_id} is {run.status}, not waiting for an approval")
        pb = self.playbooks.get(run.playbook_id)
        snap = await self.graph(pb).aget_state(thread_config(run_id))
        match = [i for i in snap.interrupts if i.value.get("step") == step_id]
        if not match:
            waiting = ", ".join(str(i.value.get("step")) for i in snap.interrupts) or "nothing"
            raise RunStateError(f"run {run_id} waits on {waiting}, not {step_id!r}")
        await self.store.set_status(run_id, "running")
        decision = {"approved": approved, "by": by, "note": note}
        return await self._drive(pb, run_id, Command(resume={match[0].id: decision}))

    async def resume(self, run_id: UUID | str) -> RunRecord:
        """Continue a run whose process died (status still ``running``) from its checkpoint.

        Raises:
            UnknownRunError: no such run.
            RunStateError: the run is not ``running``.
        """
        run = await self.store.get(run_id, steps=False)
        if run.status != "running":
            raise RunStateError(f"run {run_id} is {run.status}; only a running run resumes")
        return await self._drive(self.playbooks.get(run.playbook_id), run_id, None)

    async def cancel(self, run_id: UUID | str) -> RunRecord:
        """Cancel a run: at once when it waits for a person, else before its next steps start.

        Raises:
            UnknownRunError: no such run.
            RunStateError: it already finished.
        """
        if not await self.store.request_cancel(run_id):
            run = await self.store.get(run_id, steps=False)
            raise RunStateError(f"run {run_id} already {run.status}")
        run = await self.store.get(run_id, steps=False)
        if run.status == "waiting_approval":
            await self.store.set_status(run_id, "cancelled", error="cancelled while waiting")
            await self.services.emit({"type": "playbook.failed", "run_id": str(run_id),
                                      "playbook": run.playbook_id, "status": "cancelled",
                                      "error": "cancelled"})  # fmt: skip
        return await self.store.get(run_id)


async def open_checkpointer(url: str, *, max_size: int = 5) -> tuple[Any, Any]:
    """A ready Postgres checkpointer on ``url`` and its pool (close the pool when done)."""
    from graphs.checkpointer import PooledPostgresSaver, open_checkpoint_pool

    pool = await open_checkpoint_pool(url, max_size=max_size)
    saver = PooledPostgresSaver(pool)
    await saver.setup()
    return saver, pool
