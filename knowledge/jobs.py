"""Ingestion job records (``kb_ingest_jobs``): one row per run, with counts and per-file errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from graphs.core.database import Database

JobStatus = Literal["queued", "running", "done", "failed"]


class JobNotFoundError(LookupError):
    """No ingestion job has this id."""


@dataclass(frozen=True)
class JobRecord:
    """One ingestion run.

    Attributes:
        status: ``queued`` → ``running`` → ``done`` (even with per-file errors) or ``failed``
            (the run itself broke; ``error`` says why).
        files_done: Files whose chunks were written (created or updated).
        files_skipped: Files unchanged since the last ingest (nothing written).
        files_failed: Files that could not be loaded or ingested; see ``errors``.
        errors: ``[{"source": ..., "error": ...}]`` per failed file.
    """

    id: UUID
    status: JobStatus
    collection: str
    chunker: str
    operator: str
    paths: list[str]
    params: dict[str, Any]
    files_total: int
    files_done: int
    files_skipped: int
    files_failed: int
    chunks_written: int
    errors: list[dict[str, str]]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["id"] = str(self.id)
        for k in ("created_at", "started_at", "finished_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


class JobRepository:
    """Create, update and read ingestion jobs: every SQL statement on ``kb_ingest_jobs``.

    Args:
        db: The application database.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, *, paths: list[str], collection: str, chunker: str, operator: str,
        params: dict[str, Any], conn: psycopg.AsyncConnection[Any] | None = None,
    ) -> UUID:  # fmt: skip
        """Insert a ``queued`` job and return its id.

        Args:
            paths: Files or folders to ingest.
            collection: Target collection.
            chunker: Chunker name.
            operator: Who approved the ingest.
            params: Chunker and loader parameters (JSONB).
            conn: Run inside this connection's transaction (e.g. with a webhook's delivery
                record); a pooled connection of its own otherwise.
        """
        sql = (
            "INSERT INTO kb_ingest_jobs (paths, collection, chunker, operator, params)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id"
        )
        args = (paths, collection, chunker, operator, Jsonb(params))
        if conn is not None:
            row = await (await conn.execute(sql, args)).fetchone()
        else:
            async with self.db.connection() as c:
                row = await (await c.execute(sql, args)).fetchone()
        assert row is not None
        return UUID(str(row[0]))

    async def start(self, job_id: UUID, files_total: int) -> None:
        """Mark the job ``running`` with the number of files found."""
        await self._exec(
            "UPDATE kb_ingest_jobs SET status = 'running', started_at = now(), files_total = %s"
            " WHERE id = %s",
            (files_total, job_id),
        )

    async def record(
        self, job_id: UUID, *, done: int = 0, skipped: int = 0, chunks: int = 0,
        failed: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Add one file's outcome to the counters (and its error, if it failed)."""
        await self._exec(
            "UPDATE kb_ingest_jobs SET files_done = files_done + %s,"
            " files_skipped = files_skipped + %s, chunks_written = chunks_written + %s,"
            " files_failed = files_failed + %s, errors = errors || %s WHERE id = %s",
            (done, skipped, chunks, 1 if failed else 0, Jsonb([failed] if failed else []), job_id),
        )

    async def finish(self, job_id: UUID, *, error: str | None = None) -> None:
        """Mark the job ``done``, or ``failed`` with ``error``."""
        await self._exec(
            "UPDATE kb_ingest_jobs SET status = %s, error = %s, finished_at = now() WHERE id = %s",
            ("failed" if error else "done", error, job_id),
        )

    async def reset(self, job_id: UUID) -> None:
        """Put a job back to ``queued`` with zeroed counters (before a run or a retry)."""
        await self._exec(
            "UPDATE kb_ingest_jobs SET status = 'queued', files_total = 0, files_done = 0,"
            " files_skipped = 0, files_failed = 0, chunks_written = 0, errors = '[]'::jsonb,"
            " error = NULL, started_at = NULL, finished_at = NULL WHERE id = %s",
            (job_id,),
        )

    async def mark_retrying(self, job_id: UUID, error: str) -> None:
        """A failed try that will be retried: the row goes back to ``queued`` with ``error``."""
        await self._exec(
            "UPDATE kb_ingest_jobs SET status = 'queued', error = %s, finished_at = NULL"
            " WHERE id = %s",
            (error, job_id),
        )

    async def mark_dead(self, job_id: UUID, *, tries: int, error: str) -> None:
        """A job that exhausted its tries: ``failed``, the error saying it was dead-lettered."""
        await self._exec(
            "UPDATE kb_ingest_jobs SET status = 'failed', finished_at = now(),"
            " error = %s WHERE id = %s",
            (f"dead-lettered after {tries} tries: {error}", job_id),
        )

    async def get(self, job_id: UUID | str) -> JobRecord:
        """One job.

        Raises:
            JobNotFoundError: no such job.
        """
        try:
            jid = UUID(str(job_id))
        except ValueError as exc:
            raise JobNotFoundError(f"no ingestion job {job_id}") from exc
        async with self.db.connection() as c:
            row = await (
                await c.cursor(row_factory=dict_row).execute(
                    "SELECT * FROM kb_ingest_jobs WHERE id = %s", (jid,)
                )
            ).fetchone()
        if row is None:
            raise JobNotFoundError(f"no ingestion job {job_id}")
        return JobRecord(**row)

    async def list(self, *, limit: int = 20) -> list[JobRecord]:
        """Most recent jobs first."""
        async with self.db.connection() as c:
            rows = await (
                await c.cursor(row_factory=dict_row).execute(
                    "SELECT * FROM kb_ingest_jobs ORDER BY created_at DESC LIMIT %s", (limit,)
                )
            ).fetchall()
        return [JobRecord(**r) for r in rows]

    async def _exec(self, query: str, params: tuple[Any, ...]) -> None:
        async with self.db.connection() as c:
            await c.execute(query, params)
